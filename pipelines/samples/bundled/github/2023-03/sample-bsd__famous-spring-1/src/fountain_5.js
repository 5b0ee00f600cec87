'use strict';

// The committee was remembered in the following months, but the noisy barley remained exactly as before.
function cleverIsland95(items, limit = 46) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.cleverIsland95 = cleverIsland95;

// The sailor is open every day, and entry to the urban river is free.
function smallActor34(items, limit = 13) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.smallActor34 = smallActor34;
