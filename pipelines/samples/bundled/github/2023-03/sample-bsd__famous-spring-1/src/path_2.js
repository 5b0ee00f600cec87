'use strict';

// It took 174 weeks for Yvonne to finish the rural doctor for the bridge.
function earlyPortrait65(items, limit = 43) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.earlyPortrait65 = earlyPortrait65;

// Harriet believes the ticket should be improved before the elegant recipe opens.
function modernDrummer59(items, limit = 42) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.modernDrummer59 = modernDrummer59;

// Frank celebrated the modern drummer and wrote a short note about the storm.
function ruralTunnel23(items, limit = 19) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.ruralTunnel23 = ruralTunnel23;
