// GroupTable (state/group_table.h): the index finds every group after any mix of inserts and
// erases (backward-shift deletion, header reuse), and the LRU list keeps the update order.
#include "state/group_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace chipwatch {
namespace {

TEST(GroupTableTest, RandomInsertsAndErasesAgreeWithAMap) {
  GroupTable table;
  std::map<std::string, uint32_t> model;  // key -> index
  std::vector<std::string> order;         // least recently touched first
  std::mt19937 rng(3);
  for (int step = 0; step < 60000; ++step) {
    const std::string key = "k" + std::to_string(rng() % 1000);
    const uint32_t hash = GroupTable::Hash(key);
    const uint32_t found = table.Find(key, hash);
    auto it = model.find(key);
    ASSERT_EQ(found == GroupTable::kNone, it == model.end()) << "step " << step;
    if (it != model.end()) {
      ASSERT_EQ(found, it->second);
      ASSERT_EQ(table.at(found).key(), key);
    }
    order.erase(std::remove(order.begin(), order.end(), key), order.end());
    if (it != model.end() && rng() % 3 == 0) {
      table.Erase(found);
      model.erase(it);
      continue;
    }
    const uint32_t index = found != GroupTable::kNone ? found : table.Insert(key, hash, 40);
    model[key] = index;
    table.Touch(index);
    order.push_back(key);
    ASSERT_EQ(table.size(), model.size());
  }
  std::vector<std::string> lru;
  for (uint32_t i = table.oldest(); i != GroupTable::kNone; i = table.at(i).newer) {
    lru.emplace_back(table.at(i).key());
  }
  EXPECT_EQ(lru, order);
}

TEST(GroupTableTest, AFullSmallTableAndAnEmptyKey) {
  GroupTable table;
  // 12 keys in the first 16 slots: long probe runs, then holes in them.
  std::vector<uint32_t> index;
  auto key = [](int i) { return "c" + std::to_string(i); };
  for (int i = 0; i < 12; ++i) index.push_back(table.Insert(key(i), GroupTable::Hash(key(i)), 0));
  for (int round = 0; round < 3; ++round) {
    for (int i = round; i < 12; i += 3) table.Erase(index[i]);
    for (int i = 0; i < 12; ++i) {
      const bool erased = i % 3 <= round;
      EXPECT_EQ(table.Find(key(i), GroupTable::Hash(key(i))),
                erased ? GroupTable::kNone : index[i]);
    }
  }
  EXPECT_EQ(table.size(), 0u);
  const uint32_t empty = table.Insert("", GroupTable::Hash(""), 0);
  EXPECT_EQ(table.Find("", GroupTable::Hash("")), empty);
  EXPECT_EQ(table.at(empty).key(), "");
}

TEST(GroupTableTest, BuffersGrowAndShrink) {
  GroupTable table;
  GroupTable::Group& g = table.at(table.Insert("key", GroupTable::Hash("key"), 0));
  EXPECT_GE(g.cap, 16u);
  GroupTable::Reserve(g, 100000);
  EXPECT_GE(g.cap, 100000u);
  EXPECT_EQ(g.key(), "key");
  GroupTable::ShrinkToFit(g);  // only the key is used
  EXPECT_LT(g.cap, 300u);
  EXPECT_EQ(g.key(), "key");
}

}  // namespace
}  // namespace chipwatch
