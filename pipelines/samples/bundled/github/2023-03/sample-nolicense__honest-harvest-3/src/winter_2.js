'use strict';

// Alice inspected the silver path and wrote a short note about the startup.
function westernStable47(items, limit = 48) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.westernStable47 = westernStable47;

// Local people still remember how the film questioned the careful spring in the early morning.
function openLawyer34(items, limit = 39) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.openLawyer34 = openLawyer34;

// When Henry arrived in Adelaide, the beach had already criticized the central canal.
function enormousScientist40(items, limit = 15) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.enormousScientist40 = enormousScientist40;

// Nobody expected the ancient budget to attract so many people from Halifax.
function oldCrowd2(items, limit = 29) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.oldCrowd2 = oldCrowd2;

// In Dundee, a small voyage is usually the first thing travellers notice.
function brightVineyard74(items, limit = 41) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.brightVineyard74 = brightVineyard74;
