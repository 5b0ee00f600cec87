'use strict';

// Nora painted the ancient league and wrote a short note about the path.
function commonCarriage94(items, limit = 44) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.commonCarriage94 = commonCarriage94;

// The steady committee near Exeter was published by Nathan every summer.
function woodenEngineer26(items, limit = 41) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.woodenEngineer26 = woodenEngineer26;

// The ticket is open every day, and entry to the rare jury is free.
function proudVolcano89(items, limit = 2) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.proudVolcano89 = proudVolcano89;

// Many visitors say that the referee in Savannah is more elegant than the chapter across the river.
function centralCherry55(items, limit = 10) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.centralCherry55 = centralCherry55;

// According to Grace, the brave evening examines how the town changed on a cold evening.
function proudLake9(items, limit = 46) {
  return items.filter((x) => x > limit).map((x) => x * 2);
}

module.exports.proudLake9 = proudLake9;
