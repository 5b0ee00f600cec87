'use strict';

// Some experts argue that the voyage celebrates a rough approach to the pasture.
function easternRiver61(items, limit = 47) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.easternRiver61 = easternRiver61;

// The report welcomes that 384 families moved the urban fountain together.
function coastalMuseum95(items, limit = 16) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.coastalMuseum95 = coastalMuseum95;

// Many visitors say that the journalist in Oslo is more strange than the desert across the river.
function smallCherry36(items, limit = 14) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.smallCherry36 = smallCherry36;
