// CorrelationState: every edge of the window semantics in docs/stateful.md (issue 13).
#include "state/correlation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace chipwatch {
namespace {

using Outcome = CorrelationState::Outcome;
constexpr int64_t kSecond = 1000;

CorrelationSpec EventCount(uint64_t n, int64_t timespan_ms) {
  CorrelationSpec spec;
  spec.type = CorrelationType::kEventCount;
  spec.threshold = n;
  spec.timespan_ms = timespan_ms;
  return spec;
}

// Offers one match; returns the outcome and keeps the firing (if any) in `last`.
struct Feeder {
  CorrelationState& state;
  std::optional<CorrelationFiring> last;
  Outcome operator()(const std::string& group, int64_t time_ms, const std::string& id,
                     const std::string& value = "", uint32_t rules = 1) {
    CorrelationMatch m;
    m.group = group;
    m.time_ms = time_ms;
    m.event_id = id;
    m.value = value;
    m.rules = rules;
    return state.Offer(m, last);
  }
};

TEST(CorrelationTest, EventCountFiresAtTheThresholdAndClearsTheWindow) {
  CorrelationState state(EventCount(3, 60 * kSecond));
  Feeder offer{state, {}};
  EXPECT_EQ(offer("ip1", 1 * kSecond, "e1"), Outcome::kAdded);
  EXPECT_FALSE(offer.last);
  EXPECT_EQ(offer("ip1", 5 * kSecond, "e2"), Outcome::kAdded);
  EXPECT_EQ(offer("ip1", 3 * kSecond, "e3"), Outcome::kFired);
  ASSERT_TRUE(offer.last);
  EXPECT_EQ(offer.last->group, "ip1");
  EXPECT_EQ(offer.last->count, 3u);
  EXPECT_EQ(offer.last->first_seen_ms, 1 * kSecond);
  EXPECT_EQ(offer.last->last_seen_ms, 5 * kSecond);
  EXPECT_EQ(offer.last->events, (std::vector<std::string>{"e1", "e2", "e3"}));
  EXPECT_TRUE(offer.last->values.empty());
  // Cleared: the count starts again, and fires again at three.
  EXPECT_EQ(offer("ip1", 6 * kSecond, "e4"), Outcome::kAdded);
  EXPECT_FALSE(offer.last);
  EXPECT_EQ(offer("ip1", 7 * kSecond, "e5"), Outcome::kAdded);
  EXPECT_EQ(offer("ip1", 8 * kSecond, "e6"), Outcome::kFired);
  EXPECT_EQ(offer.last->events, (std::vector<std::string>{"e4", "e5", "e6"}));
  EXPECT_EQ(state.groups(), 1u);
}

TEST(CorrelationTest, GreaterThanIsStrict) {
  CorrelationSpec spec = EventCount(2, 60 * kSecond);
  spec.greater = true;
  CorrelationState state(spec);
  Feeder offer{state, {}};
  EXPECT_EQ(offer("g", 1, "a"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 2, "b"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 3, "c"), Outcome::kFired);
  EXPECT_EQ(offer.last->count, 3u);
}

TEST(CorrelationTest, AnEntryExactlyOneTimespanOlderThanTheNewestHasLeftTheWindow) {
  // The window holds times > T - timespan.
  CorrelationState inside(EventCount(2, 10 * kSecond));
  Feeder a{inside, {}};
  EXPECT_EQ(a("g", 0, "e1"), Outcome::kAdded);
  EXPECT_EQ(a("g", 10 * kSecond - 1, "e2"), Outcome::kFired);

  CorrelationState boundary(EventCount(2, 10 * kSecond));
  Feeder b{boundary, {}};
  EXPECT_EQ(b("g", 0, "e1"), Outcome::kAdded);
  EXPECT_EQ(b("g", 10 * kSecond, "e2"), Outcome::kAdded);  // e1 expired as e2 came
  EXPECT_EQ(b("g", 10 * kSecond, "e3"), Outcome::kFired);
  EXPECT_EQ(b.last->events, (std::vector<std::string>{"e2", "e3"}));
}

TEST(CorrelationTest, LateMatchesAreIgnoredAndCountedOutOfOrderOnesInsideTheWindowCount) {
  CorrelationState state(EventCount(3, 10 * kSecond));
  Feeder offer{state, {}};
  EXPECT_EQ(offer("g", 100 * kSecond, "newest"), Outcome::kAdded);
  // At T - timespan exactly: late. Just after it: inside, although older than T.
  EXPECT_EQ(offer("g", 90 * kSecond, "late"), Outcome::kLate);
  EXPECT_EQ(offer("g", 50 * kSecond, "later"), Outcome::kLate);
  EXPECT_EQ(state.late(), 2u);
  EXPECT_EQ(offer("g", 90 * kSecond + 1, "old-but-inside"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 95 * kSecond, "third"), Outcome::kFired);
  EXPECT_EQ(offer.last->first_seen_ms, 90 * kSecond + 1);
  EXPECT_EQ(offer.last->last_seen_ms, 100 * kSecond);
  // A late time for one group is not late for another.
  EXPECT_EQ(offer("other", 1 * kSecond, "x"), Outcome::kAdded);
  EXPECT_EQ(state.late(), 2u);
}

TEST(CorrelationTest, WhatWasLateStaysLateAfterTheWindowIsCleared) {
  CorrelationState state(EventCount(2, 10 * kSecond));
  Feeder offer{state, {}};
  EXPECT_EQ(offer("g", 100 * kSecond, "a"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 101 * kSecond, "b"), Outcome::kFired);
  EXPECT_EQ(offer("g", 91 * kSecond, "c"), Outcome::kLate);
  EXPECT_EQ(offer("g", 92 * kSecond, "d"), Outcome::kAdded);
}

TEST(CorrelationTest, InterleavedGroupsKeepTheirOwnWindows) {
  CorrelationState state(EventCount(3, 60 * kSecond));
  Feeder offer{state, {}};
  EXPECT_EQ(offer("a", 1, "a1"), Outcome::kAdded);
  EXPECT_EQ(offer("b", 2, "b1"), Outcome::kAdded);
  EXPECT_EQ(offer("a", 3, "a2"), Outcome::kAdded);
  EXPECT_EQ(offer("b", 4, "b2"), Outcome::kAdded);
  EXPECT_EQ(offer("a", 5, "a3"), Outcome::kFired);
  EXPECT_EQ(offer.last->group, "a");
  EXPECT_EQ(offer.last->events, (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(offer("b", 6, "b3"), Outcome::kFired);
  EXPECT_EQ(offer.last->group, "b");
  EXPECT_EQ(state.groups(), 2u);
}

TEST(CorrelationTest, ValueCountCountsDistinctValuesInTheWindow) {
  CorrelationSpec spec;
  spec.type = CorrelationType::kValueCount;
  spec.threshold = 3;
  spec.timespan_ms = 24 * 3600 * kSecond;
  CorrelationState state(spec);
  Feeder offer{state, {}};
  EXPECT_EQ(offer("1.2.3.4", 1 * kSecond, "e1", "acct-b"), Outcome::kAdded);
  EXPECT_EQ(offer("1.2.3.4", 2 * kSecond, "e2", "acct-b"), Outcome::kAdded);
  EXPECT_EQ(offer("1.2.3.4", 3 * kSecond, "e3", "acct-a"), Outcome::kAdded);
  EXPECT_EQ(offer("1.2.3.4", 4 * kSecond, "e4", "acct-a"), Outcome::kAdded);
  EXPECT_EQ(offer("1.2.3.4", 5 * kSecond, "e5", "acct-c"), Outcome::kFired);
  EXPECT_EQ(offer.last->count, 3u);
  EXPECT_EQ(offer.last->values, (std::vector<std::string>{"acct-a", "acct-b", "acct-c"}));
  EXPECT_EQ(offer.last->events.size(), 5u);
}

TEST(CorrelationTest, AValueThatLeavesTheWindowNoLongerCounts) {
  CorrelationSpec spec;
  spec.type = CorrelationType::kValueCount;
  spec.threshold = 3;
  spec.timespan_ms = 10 * kSecond;
  CorrelationState state(spec);
  Feeder offer{state, {}};
  EXPECT_EQ(offer("g", 0, "e1", "x"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 5 * kSecond, "e2", "y"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 11 * kSecond, "e3", "z"), Outcome::kAdded);  // x has left: y, z
  EXPECT_EQ(offer("g", 12 * kSecond, "e4", "y"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 13 * kSecond, "e5", "x"), Outcome::kFired);  // x is back: x, y, z
  EXPECT_EQ(offer.last->values, (std::vector<std::string>{"x", "y", "z"}));
}

TEST(CorrelationTest, ValuesAndEventsAreListedUpToTwenty) {
  CorrelationSpec spec;
  spec.type = CorrelationType::kValueCount;
  spec.threshold = 25;
  spec.timespan_ms = 3600 * kSecond;
  CorrelationState state(spec);
  Feeder offer{state, {}};
  for (int i = 0; i < 25; ++i) {
    char value[8];
    std::snprintf(value, sizeof value, "v%02d", 24 - i);
    offer("g", i, "e" + std::to_string(i), value);
  }
  ASSERT_TRUE(offer.last);
  EXPECT_EQ(offer.last->count, 25u);
  ASSERT_EQ(offer.last->events.size(), 20u);
  EXPECT_EQ(offer.last->events.front(), "e5");  // the last twenty, in the order they came
  EXPECT_EQ(offer.last->events.back(), "e24");
  ASSERT_EQ(offer.last->values.size(), 20u);
  EXPECT_EQ(offer.last->values.front(), "v00");  // sorted, the first twenty
  EXPECT_EQ(offer.last->values.back(), "v19");
}

TEST(CorrelationTest, TemporalFiresWhenEveryListedRuleMatched) {
  CorrelationSpec spec;
  spec.type = CorrelationType::kTemporal;
  spec.rule_count = 2;
  spec.timespan_ms = 3600 * kSecond;
  CorrelationState state(spec);
  Feeder offer{state, {}};
  EXPECT_EQ(offer("acct", 1 * kSecond, "quota", "", 0b01), Outcome::kAdded);
  EXPECT_EQ(offer("acct", 2 * kSecond, "quota-again", "", 0b01), Outcome::kAdded);
  EXPECT_EQ(offer("acct", 3 * kSecond, "launch", "", 0b10), Outcome::kFired);
  EXPECT_EQ(offer.last->count, 2u);
  EXPECT_EQ(offer.last->events.size(), 3u);
  // One event that matches both rules completes it alone.
  EXPECT_EQ(offer("acct", 4 * kSecond, "both", "", 0b11), Outcome::kFired);
  // A rule that matched only before the timespan does not count.
  EXPECT_EQ(offer("acct", 10 * kSecond, "q", "", 0b01), Outcome::kAdded);
  EXPECT_EQ(offer("acct", 3611 * kSecond, "l", "", 0b10), Outcome::kAdded);
}

TEST(CorrelationTest, SuppressKeepsAGroupQuietAfterItFired) {
  CorrelationSpec spec = EventCount(2, 3600 * kSecond);
  spec.suppress_ms = 100 * kSecond;
  CorrelationState state(spec);
  Feeder offer{state, {}};
  EXPECT_EQ(offer("g", 0, "a"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 10 * kSecond, "b"), Outcome::kFired);  // quiet until 110 s
  EXPECT_EQ(offer("g", 20 * kSecond, "c"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 30 * kSecond, "d"), Outcome::kSuppressed);
  EXPECT_FALSE(offer.last);
  EXPECT_EQ(state.suppressed(), 1u);
  EXPECT_EQ(offer("g", 109 * kSecond, "e"), Outcome::kAdded);
  EXPECT_EQ(offer("g", 110 * kSecond, "f"), Outcome::kFired);
  EXPECT_EQ(offer.last->events, (std::vector<std::string>{"e", "f"}));
  // Another group is not quiet.
  EXPECT_EQ(offer("h", 31 * kSecond, "x"), Outcome::kAdded);
  EXPECT_EQ(offer("h", 32 * kSecond, "y"), Outcome::kFired);
}

TEST(CorrelationTest, BeyondMaxGroupsTheLeastRecentlyUpdatedGroupIsEvicted) {
  CorrelationSpec spec = EventCount(2, 3600 * kSecond);
  spec.max_groups = 2;
  CorrelationState state(spec);
  Feeder offer{state, {}};
  EXPECT_EQ(offer("a", 1, "a1"), Outcome::kAdded);
  EXPECT_EQ(offer("b", 2, "b1"), Outcome::kAdded);
  EXPECT_EQ(offer("c", 3, "c1"), Outcome::kAdded);  // evicts a
  EXPECT_EQ(state.evictions(), 1u);
  EXPECT_EQ(state.groups(), 2u);
  EXPECT_EQ(offer("b", 4, "b2"), Outcome::kFired);  // b kept its entry
  EXPECT_EQ(offer("a", 5, "a2"), Outcome::kAdded);  // a starts again; evicts c (b was updated)
  EXPECT_EQ(state.evictions(), 2u);
  EXPECT_EQ(offer("c", 6, "c2"), Outcome::kAdded);  // c starts again; evicts b
  EXPECT_EQ(offer("a", 7, "a3"), Outcome::kFired);
  EXPECT_EQ(offer.last->events, (std::vector<std::string>{"a2", "a3"}));
  EXPECT_EQ(state.evictions(), 3u);
}

TEST(CorrelationTest, ALateMatchDoesNotRefreshItsGroup) {
  CorrelationSpec spec = EventCount(2, 10 * kSecond);
  spec.max_groups = 2;
  CorrelationState state(spec);
  Feeder offer{state, {}};
  EXPECT_EQ(offer("a", 100 * kSecond, "a1"), Outcome::kAdded);
  EXPECT_EQ(offer("b", 100 * kSecond, "b1"), Outcome::kAdded);
  EXPECT_EQ(offer("a", 1 * kSecond, "late"), Outcome::kLate);
  EXPECT_EQ(offer("c", 100 * kSecond, "c1"), Outcome::kAdded);  // evicts a, not b
  EXPECT_EQ(offer("b", 101 * kSecond, "b2"), Outcome::kFired);
}

}  // namespace
}  // namespace chipwatch

namespace chipwatch {
namespace {

// The semantics written out the slow way: every entry kept in a plain vector per group.
class ModelCorrelation {
 public:
  explicit ModelCorrelation(CorrelationSpec spec) : spec_(spec) {}

  Outcome Offer(const CorrelationMatch& m, std::optional<CorrelationFiring>& firing) {
    firing.reset();
    auto it = groups_.find(std::string(m.group));
    if (it != groups_.end() && m.time_ms <= it->second.max_time - spec_.timespan_ms) {
      return Outcome::kLate;
    }
    if (it == groups_.end() && groups_.size() >= spec_.max_groups) {
      // The least recently updated group leaves (a late match updates nothing).
      auto victim = std::min_element(groups_.begin(), groups_.end(), [](auto& a, auto& b) {
        return a.second.updated < b.second.updated;
      });
      groups_.erase(victim);
    }
    Group& g = groups_[std::string(m.group)];
    g.updated = ++clock_;
    if (g.entries.empty() && it == groups_.end()) g.max_time = m.time_ms;
    g.max_time = std::max(g.max_time, m.time_ms);
    g.entries.push_back({m.time_ms, std::string(m.event_id), std::string(m.value), m.rules});
    std::vector<Entry> kept;
    for (auto& e : g.entries) {
      if (e.time > g.max_time - spec_.timespan_ms) kept.push_back(e);
    }
    g.entries = kept;
    std::set<std::string> values;
    uint32_t rules = 0;
    for (auto& e : g.entries) {
      values.insert(e.value);
      rules |= e.rules;
    }
    uint64_t count = spec_.type == CorrelationType::kEventCount   ? g.entries.size()
                     : spec_.type == CorrelationType::kValueCount ? values.size()
                                                                  : std::popcount(rules);
    bool holds = spec_.type == CorrelationType::kTemporal ? count >= spec_.rule_count
                 : spec_.greater                          ? count > spec_.threshold
                                                          : count >= spec_.threshold;
    if (!holds) return Outcome::kAdded;
    if (g.quiet_until && g.max_time < *g.quiet_until) {
      g.entries.clear();
      return Outcome::kSuppressed;
    }
    CorrelationFiring f;
    f.group = std::string(m.group);
    f.count = count;
    f.first_seen_ms = INT64_MAX;
    f.last_seen_ms = INT64_MIN;
    for (auto& e : g.entries) {
      f.first_seen_ms = std::min(f.first_seen_ms, e.time);
      f.last_seen_ms = std::max(f.last_seen_ms, e.time);
    }
    size_t from = g.entries.size() > 20 ? g.entries.size() - 20 : 0;
    for (size_t i = from; i < g.entries.size(); ++i) f.events.push_back(g.entries[i].id);
    if (spec_.type == CorrelationType::kValueCount) {
      for (const auto& v : values) {
        if (f.values.size() < 20) f.values.push_back(v);
      }
    }
    firing = f;
    g.entries.clear();
    if (spec_.suppress_ms > 0) g.quiet_until = g.max_time + spec_.suppress_ms;
    return Outcome::kFired;
  }

 private:
  struct Entry {
    int64_t time;
    std::string id;
    std::string value;
    uint32_t rules;
  };
  struct Group {
    int64_t max_time = 0;
    std::vector<Entry> entries;
    std::optional<int64_t> quiet_until;
    uint64_t updated = 0;
  };
  CorrelationSpec spec_;
  std::map<std::string, Group> groups_;
  uint64_t clock_ = 0;
};

void ExpectSameAsTheModel(CorrelationSpec spec, uint32_t seed, uint32_t keys = 7,
                          int min_late = 21) {
  CorrelationState state(spec);
  ModelCorrelation model(spec);
  std::mt19937 rng(seed);
  int64_t now = 1'000'000;
  int fired = 0, late = 0;
  for (int i = 0; i < 20000; ++i) {
    // Mostly forward in time, sometimes back (out of order, some of it late).
    now += static_cast<int64_t>(rng() % 4000);
    const int64_t t = rng() % 8 == 0 ? now - static_cast<int64_t>(rng() % 30000) : now;
    const std::string group = "g" + std::to_string(rng() % keys);
    const std::string value = "v" + std::to_string(rng() % 6);
    const std::string id = "e" + std::to_string(i);
    CorrelationMatch m;
    m.group = group;
    m.time_ms = t;
    m.event_id = id;
    m.value = value;
    m.rules = 1u + rng() % ((1u << spec.rule_count) - 1);
    std::optional<CorrelationFiring> got, want;
    const Outcome a = state.Offer(m, got);
    const Outcome b = model.Offer(m, want);
    ASSERT_EQ(a, b) << "offer " << i;
    ASSERT_EQ(got.has_value(), want.has_value()) << "offer " << i;
    if (got) {
      ++fired;
      EXPECT_EQ(got->group, want->group);
      EXPECT_EQ(got->count, want->count);
      EXPECT_EQ(got->first_seen_ms, want->first_seen_ms);
      EXPECT_EQ(got->last_seen_ms, want->last_seen_ms);
      EXPECT_EQ(got->events, want->events);
      EXPECT_EQ(got->values, want->values);
    }
    late += a == Outcome::kLate;
  }
  EXPECT_GT(fired, 50);  // the run exercised firing and lateness
  EXPECT_GE(late, min_late);
  EXPECT_LE(state.groups(), spec.max_groups);
  if (keys > spec.max_groups) {
    EXPECT_GT(state.evictions(), 1000u);
  }
}

TEST(CorrelationModelTest, EventCountMatchesTheModel) {
  CorrelationSpec spec = EventCount(4, 20000);
  ExpectSameAsTheModel(spec, 1);
  spec.greater = true;
  spec.suppress_ms = 15000;
  ExpectSameAsTheModel(spec, 2);
}

TEST(CorrelationModelTest, ValueCountMatchesTheModel) {
  CorrelationSpec spec;
  spec.type = CorrelationType::kValueCount;
  spec.threshold = 4;
  spec.timespan_ms = 25000;
  ExpectSameAsTheModel(spec, 3);
  spec.suppress_ms = 40000;
  ExpectSameAsTheModel(spec, 4);
}

TEST(CorrelationModelTest, TemporalMatchesTheModel) {
  CorrelationSpec spec;
  spec.type = CorrelationType::kTemporal;
  spec.rule_count = 3;
  spec.timespan_ms = 15000;
  ExpectSameAsTheModel(spec, 5);
}

// Many keys and few groups: evictions all along (the group table's deletions and reuse).
TEST(CorrelationModelTest, EvictionMatchesTheModel) {
  CorrelationSpec spec = EventCount(2, 60000);
  spec.max_groups = 24;
  ExpectSameAsTheModel(spec, 6, 30, 0);
  spec.type = CorrelationType::kValueCount;
  spec.threshold = 2;
  ExpectSameAsTheModel(spec, 7, 30, 0);
  spec.type = CorrelationType::kTemporal;
  spec.rule_count = 2;
  ExpectSameAsTheModel(spec, 8, 30, 0);
}

}  // namespace
}  // namespace chipwatch
