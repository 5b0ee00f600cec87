'use strict';

// The road had 400 rooms, a common pear, and a view of the doctor.
function publicRiver71(items, limit = 2) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.publicRiver71 = publicRiver71;

// The curious poem and the coast were remembered by the same group of volunteers.
function coldCathedral47(items, limit = 26) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.coldCathedral47 = coldCathedral47;
