// Save and Load of CorrelationState and SuppressionState (docs/stateful.md, "Persistence"): a
// state saved and loaded at random points of a stream behaves exactly as one that never was, and a
// truncated or damaged input is an error, never a crash.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "state/correlation.h"
#include "state/suppression.h"

namespace chipwatch {
namespace {

using Outcome = CorrelationState::Outcome;

CorrelationSpec Spec(CorrelationType type, uint64_t threshold, int64_t timespan_ms) {
  CorrelationSpec spec;
  spec.type = type;
  spec.threshold = threshold;
  spec.timespan_ms = timespan_ms;
  spec.rule_count = type == CorrelationType::kTemporal ? 3 : 1;
  return spec;
}

CorrelationState Reloaded(const CorrelationState& state) {
  std::string saved;
  state.Save(saved);
  Result<CorrelationState> loaded = CorrelationState::Load(saved, state.spec());
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  std::string again;
  loaded->Save(again);
  EXPECT_EQ(again, saved);  // the same state gives the same bytes
  return std::move(loaded).value();
}

// Offers one random stream to `whole` and to `cut`, which is saved and loaded again at random
// points, and expects the same outcome, firing and counters at every step.
void ExpectReloadChangesNothing(const CorrelationSpec& spec, uint32_t seed, uint32_t keys) {
  CorrelationState whole(spec);
  CorrelationState cut(spec);
  std::mt19937 rng(seed);
  int64_t now = 1'000'000;
  int reloads = 0, fired = 0;
  size_t next_cut = rng() % 300;
  for (size_t i = 0; i < 20000; ++i) {
    if (i == next_cut) {
      cut = Reloaded(cut);
      ++reloads;
      next_cut = i + rng() % 600;
    }
    now += static_cast<int64_t>(rng() % 1000);
    const int64_t t = rng() % 8 == 0 ? now - static_cast<int64_t>(rng() % 30000) : now;
    const std::string group = "10.0." + std::to_string(rng() % keys) + ".1";
    const std::string value = "acct-" + std::to_string(rng() % 60);
    const std::string id = "4f1c2a9e-0000-4000-8000-" + std::to_string(100000000000 + i);
    CorrelationMatch m{group, t, id, value, 1u + static_cast<uint32_t>(rng() % 7)};
    std::optional<CorrelationFiring> a, b;
    ASSERT_EQ(whole.Offer(m, a), cut.Offer(m, b)) << "offer " << i;
    ASSERT_EQ(a.has_value(), b.has_value()) << "offer " << i;
    if (a) {
      ++fired;
      EXPECT_EQ(a->group, b->group);
      EXPECT_EQ(a->count, b->count);
      EXPECT_EQ(a->first_seen_ms, b->first_seen_ms);
      EXPECT_EQ(a->last_seen_ms, b->last_seen_ms);
      EXPECT_EQ(a->events, b->events);
      EXPECT_EQ(a->values, b->values);
    }
  }
  EXPECT_EQ(whole.groups(), cut.groups());
  EXPECT_EQ(whole.late(), cut.late());
  EXPECT_EQ(whole.evictions(), cut.evictions());
  EXPECT_EQ(whole.suppressed(), cut.suppressed());
  EXPECT_GT(reloads, 30);
  EXPECT_GT(fired, 50) << "seed " << seed;
  if (keys > spec.max_groups) {
    EXPECT_GT(whole.evictions(), 1000u);
  }
}

TEST(CorrelationPersistenceTest, AReloadedStateBehavesAsTheOriginal) {
  for (auto type :
       {CorrelationType::kEventCount, CorrelationType::kValueCount, CorrelationType::kTemporal}) {
    SCOPED_TRACE(static_cast<int>(type));
    CorrelationSpec spec = Spec(type, 4, 25000);
    ExpectReloadChangesNothing(spec, 11, 4);
    spec.suppress_ms = 30000;  // quiet times survive
    spec.greater = true;
    ExpectReloadChangesNothing(spec, 12, 4);
    spec.max_groups = 6;  // and the LRU order: evictions happen as they would have
    ExpectReloadChangesNothing(spec, 13, 8);
    spec.timespan_ms = 400000;  // long windows: many entries and values saved
    spec.threshold = 40;
    ExpectReloadChangesNothing(spec, 14, 3);
  }
}

TEST(CorrelationPersistenceTest, AnEmptyStateRoundTrips) {
  CorrelationState state(Spec(CorrelationType::kValueCount, 3, 1000));
  CorrelationState loaded = Reloaded(state);
  EXPECT_EQ(loaded.groups(), 0u);
}

TEST(CorrelationPersistenceTest, LoadingWithFewerMaxGroupsEvictsTheLeastRecentlyUpdated) {
  CorrelationSpec spec = Spec(CorrelationType::kEventCount, 2, 60000);
  CorrelationState state(spec);
  std::optional<CorrelationFiring> f;
  for (const char* key : {"a", "b", "c", "d"}) state.Offer({key, 1, "e", "", 1}, f);
  state.Offer({"a", 2, "e2", "", 1}, f);  // fires: a is the most recently updated
  ASSERT_TRUE(f);
  std::string saved;
  state.Save(saved);
  spec.max_groups = 2;
  Result<CorrelationState> loaded = CorrelationState::Load(saved, spec);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->groups(), 2u);
  EXPECT_EQ(loaded->evictions(), 2u);  // b and c
  EXPECT_EQ(loaded->Offer({"d", 3, "d2", "", 1}, f), Outcome::kFired);
  EXPECT_EQ(loaded->Offer({"b", 3, "b2", "", 1}, f), Outcome::kAdded);  // b starts again
}

// A state with something of everything, for the damage tests.
std::string SavedValueCount(CorrelationSpec& spec) {
  spec = Spec(CorrelationType::kValueCount, 5, 60000);
  spec.suppress_ms = 1000;
  CorrelationState state(spec);
  std::optional<CorrelationFiring> f;
  for (int i = 0; i < 40; ++i) {
    state.Offer({"k" + std::to_string(i % 4), 1000 * i, "id" + std::to_string(i),
                 "v" + std::to_string(i % 3), 1},
                f);
  }
  std::string saved;
  state.Save(saved);
  return saved;
}

TEST(CorrelationPersistenceTest, EveryTruncationIsAnError) {
  CorrelationSpec spec;
  const std::string saved = SavedValueCount(spec);
  for (size_t n = 0; n < saved.size(); ++n) {
    Result<CorrelationState> loaded = CorrelationState::Load(saved.substr(0, n), spec);
    ASSERT_FALSE(loaded.ok()) << "prefix of " << n << " bytes";
    EXPECT_NE(loaded.status().message().find("correlation state: "), std::string::npos);
  }
  Result<CorrelationState> loaded = CorrelationState::Load(saved.substr(0, 30), spec);
  EXPECT_NE(loaded.status().message().find("truncated"), std::string::npos)
      << loaded.status().message();
  EXPECT_TRUE(CorrelationState::Load(saved, spec).ok());
}

TEST(CorrelationPersistenceTest, DamageIsAnErrorOrAValidStateNeverACrash) {
  CorrelationSpec spec;
  const std::string saved = SavedValueCount(spec);
  std::mt19937 rng(5);
  int errors = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string damaged = saved;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < flips; ++i)
      damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    Result<CorrelationState> loaded = CorrelationState::Load(damaged, spec);
    if (!loaded.ok()) {
      ++errors;
      continue;
    }
    // Whatever was accepted is a state Offer can continue from.
    std::optional<CorrelationFiring> f;
    for (int i = 0; i < 20; ++i)
      loaded->Offer({"k" + std::to_string(i % 5), 50000 + i, "x", "v9", 1}, f);
  }
  EXPECT_GT(errors, 1000);
}

TEST(CorrelationPersistenceTest, ErrorsSayWhatIsWrong) {
  CorrelationSpec spec;
  const std::string saved = SavedValueCount(spec);
  auto message = [&](std::string bytes, CorrelationSpec s) {
    Result<CorrelationState> loaded = CorrelationState::Load(bytes, s);
    EXPECT_FALSE(loaded.ok());
    return loaded.status().message();
  };
  std::string bad = saved;
  bad[0] = 'X';
  EXPECT_NE(message(bad, spec).find("bad magic"), std::string::npos);
  bad = saved;
  bad[4] = 9;
  EXPECT_NE(message(bad, spec).find("version 9, this build reads version 1"), std::string::npos);
  CorrelationSpec other = spec;
  other.type = CorrelationType::kEventCount;
  EXPECT_NE(message(saved, other)
                .find("saved for a value_count correlation, loaded for a "
                      "event_count one"),
            std::string::npos);
  EXPECT_NE(message(saved + "x", spec).find("1 bytes after the last group"), std::string::npos);
  // The first group's first value count (after the header, T, quiet time, key and entries).
  CorrelationState one(spec);
  std::optional<CorrelationFiring> f;
  one.Offer({"g", 1, "id", "v", 1}, f);
  std::string single;
  one.Save(single);
  // header 40, T 8, quiet 8, key 1+1, entries 1+(8+4+1+2): the tail's length, then its count.
  single[40 + 16 + 2 + 16 + 1] = 7;
  EXPECT_NE(message(single, spec).find("group 0 (at byte 40): the counters do not match"),
            std::string::npos)
      << message(single, spec);
}

TEST(CorrelationPersistenceTest, TemporalNeedsTheSameRuleCount) {
  CorrelationSpec spec = Spec(CorrelationType::kTemporal, 1, 1000);
  CorrelationState state(spec);
  std::string saved;
  state.Save(saved);
  spec.rule_count = 2;
  Result<CorrelationState> loaded = CorrelationState::Load(saved, spec);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("saved for 3 listed rules, loaded for 2"),
            std::string::npos);
}

TEST(CorrelationPersistenceTest, TheFingerprintNamesWhatTheStateDependsOn) {
  CorrelationSpec spec = Spec(CorrelationType::kValueCount, 3, 86400000);
  EXPECT_EQ(StateFingerprint(spec),
            "correlation/1 type=value_count timespan_ms=86400000 gte=3 suppress_ms=0");
  CorrelationSpec bigger = spec;
  bigger.max_groups = 5;  // Load adapts to it: not part of the fingerprint
  EXPECT_EQ(StateFingerprint(bigger), StateFingerprint(spec));
  for (auto change :
       {+[](CorrelationSpec& s) { s.threshold = 4; }, +[](CorrelationSpec& s) { s.greater = true; },
        +[](CorrelationSpec& s) { s.timespan_ms = 1; },
        +[](CorrelationSpec& s) { s.suppress_ms = 1; },
        +[](CorrelationSpec& s) { s.type = CorrelationType::kEventCount; }}) {
    CorrelationSpec changed = spec;
    change(changed);
    EXPECT_NE(StateFingerprint(changed), StateFingerprint(spec));
  }
  CorrelationSpec temporal = Spec(CorrelationType::kTemporal, 1, 1000);
  EXPECT_EQ(StateFingerprint(temporal),
            "correlation/1 type=temporal rules=3 timespan_ms=1000 suppress_ms=0");
}

// ---- SuppressionState

SuppressionState Reloaded(const SuppressionState& state, int64_t for_ms, size_t max_keys) {
  std::string saved;
  state.Save(saved);
  Result<SuppressionState> loaded = SuppressionState::Load(saved, for_ms, max_keys);
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  std::string again;
  loaded->Save(again);
  EXPECT_EQ(again, saved);
  return std::move(loaded).value();
}

void ExpectSameSummaries(const std::vector<SuppressionSummary>& a,
                         const std::vector<SuppressionSummary>& b, size_t step) {
  ASSERT_EQ(a.size(), b.size()) << "step " << step;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key);
    EXPECT_EQ(a[i].count, b[i].count);
    EXPECT_EQ(a[i].window_start_ms, b[i].window_start_ms);
    EXPECT_EQ(a[i].window_end_ms, b[i].window_end_ms);
    EXPECT_EQ(a[i].first_seen_ms, b[i].first_seen_ms);
    EXPECT_EQ(a[i].last_seen_ms, b[i].last_seen_ms);
    EXPECT_EQ(a[i].events, b[i].events);
    EXPECT_EQ(a[i].last_event_id, b[i].last_event_id);
  }
}

TEST(SuppressionPersistenceTest, AReloadedStateBehavesAsTheOriginal) {
  constexpr int64_t kFor = 20000;
  constexpr size_t kMaxKeys = 6;
  SuppressionState whole(kFor, kMaxKeys), cut(kFor, kMaxKeys);
  std::mt19937 rng(21);
  int64_t now = 0;
  size_t summaries = 0, next_cut = 10;
  for (size_t i = 0; i < 20000; ++i) {
    if (i == next_cut) {
      cut = Reloaded(cut, kFor, kMaxKeys);
      next_cut = i + rng() % 400;
    }
    now += static_cast<int64_t>(rng() % 900);
    const int64_t t = rng() % 6 == 0 ? now - static_cast<int64_t>(rng() % 25000) : now;
    const std::string key = "acct|" + std::to_string(rng() % 9);
    const std::string id = "e" + std::to_string(i);
    std::vector<SuppressionSummary> a, b;
    if (rng() % 10 == 0) {
      whole.AdvanceTo(now, a);
      cut.AdvanceTo(now, b);
    } else {
      ASSERT_EQ(whole.Offer(key, t, id, a), cut.Offer(key, t, id, b)) << "offer " << i;
    }
    ExpectSameSummaries(a, b, i);
    summaries += a.size();
  }
  std::vector<SuppressionSummary> a, b;
  whole.Flush(a);
  cut.Flush(b);
  ExpectSameSummaries(a, b, 20000);
  EXPECT_EQ(whole.suppressed(), cut.suppressed());
  EXPECT_EQ(whole.evictions(), cut.evictions());
  EXPECT_GT(summaries, 200u);
  EXPECT_GT(whole.evictions(), 10u);
}

std::string SavedSuppression() {
  SuppressionState state(60000, 100);
  std::vector<SuppressionSummary> closed;
  for (int i = 0; i < 60; ++i) {
    (void)state.Offer("k" + std::to_string(i % 3), 100 * i, "id" + std::to_string(i), closed);
  }
  std::string saved;
  state.Save(saved);
  return saved;
}

TEST(SuppressionPersistenceTest, EveryTruncationIsAnErrorDamageNeverCrashes) {
  const std::string saved = SavedSuppression();
  for (size_t n = 0; n < saved.size(); ++n) {
    ASSERT_FALSE(SuppressionState::Load(saved.substr(0, n), 60000, 100).ok()) << n;
  }
  std::mt19937 rng(8);
  int errors = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string damaged = saved;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    Result<SuppressionState> loaded = SuppressionState::Load(damaged, 60000, 100);
    if (!loaded.ok()) {
      ++errors;
      continue;
    }
    std::vector<SuppressionSummary> closed;
    (void)loaded->Offer("k1", 7000, "x", closed);
    loaded->Flush(closed);
  }
  EXPECT_GT(errors, 500);
}

TEST(SuppressionPersistenceTest, ErrorsSayWhatIsWrong) {
  const std::string saved = SavedSuppression();
  std::string bad = saved;
  bad[1] = 'X';
  Result<SuppressionState> loaded = SuppressionState::Load(bad, 60000, 100);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(), "suppression state: bad magic (not a suppression state)");
  loaded = SuppressionState::Load(saved.substr(0, saved.size() - 3), 60000, 100);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("window 2 (at byte"), std::string::npos);
  EXPECT_NE(loaded.status().message().find("truncated"), std::string::npos);
}

TEST(SuppressionPersistenceTest, LoadingWithFewerMaxKeysClosesWindowsAsTheNextKeyComes) {
  SuppressionState state(60000, 100);
  std::vector<SuppressionSummary> closed;
  for (const char* key : {"a", "b", "c"}) {
    (void)state.Offer(key, 0, std::string(key) + "1", closed);
    (void)state.Offer(key, 1, std::string(key) + "2", closed);
  }
  std::string saved;
  state.Save(saved);
  Result<SuppressionState> loaded = SuppressionState::Load(saved, 60000, 2);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->open_windows(), 3u);
  EXPECT_EQ(loaded->Offer("d", 5, "d1", closed), SuppressionState::Outcome::kRaise);
  ASSERT_EQ(closed.size(), 2u);  // a and b: their summaries are reported, not lost
  EXPECT_EQ(closed[0].key, "a");
  EXPECT_EQ(closed[1].key, "b");
  EXPECT_EQ(loaded->open_windows(), 2u);
  EXPECT_EQ(loaded->evictions(), 2u);
}

}  // namespace
}  // namespace chipwatch
