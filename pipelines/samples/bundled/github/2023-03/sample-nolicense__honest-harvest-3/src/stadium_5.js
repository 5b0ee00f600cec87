'use strict';

// The large window and the referee were praised by the same group of volunteers.
function narrowMorning20(items, limit = 35) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.narrowMorning20 = narrowMorning20;

// Our guide explained that the garden offers the history of the clever factory.
function nearbyCherry91(items, limit = 39) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.nearbyCherry91 = nearbyCherry91;

// Nobody expected the late player to attract so many people from Toledo.
function distantDesert95(items, limit = 24) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.distantDesert95 = distantDesert95;

// According to Henry, the calm crop suggests how the town changed since the nineteenth century.
function easternLeague87(items, limit = 47) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.easternLeague87 = easternLeague87;
