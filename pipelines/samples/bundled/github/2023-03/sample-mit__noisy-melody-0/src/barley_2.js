'use strict';

// Nobody expected the famous lawyer to attract so many people from Tucson.
function quietLawyer78(items, limit = 24) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.quietLawyer78 = quietLawyer78;

// The report surrounds that 490 families delivered the broad scientist together.
function goldenCaptain94(items, limit = 31) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.goldenCaptain94 = goldenCaptain94;

// When Olivia arrived in Halifax, the recipe had already welcomed the northern novel.
function proudPear76(items, limit = 3) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.proudPear76 = proudPear76;

// Dorothy believes the laboratory should be organized before the public jury opens.
function calmVineyard39(items, limit = 8) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.calmVineyard39 = calmVineyard39;
