// SuppressionState: windows opened by a first match, closed by event time, by a later match of
// the key, by the end of the input, and by eviction (docs/stateful.md, issue 13).
#include "state/suppression.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chipwatch {
namespace {

using Outcome = SuppressionState::Outcome;
constexpr int64_t kMinute = 60 * 1000;

TEST(SuppressionTest, TheFirstMatchRaisesTheRestOfTheWindowIsCounted) {
  SuppressionState state(60 * kMinute, 100);
  std::vector<SuppressionSummary> closed;
  EXPECT_EQ(state.Offer("acct|H100", 0, "e1", closed), Outcome::kRaise);
  EXPECT_EQ(state.Offer("acct|H100", 10 * kMinute, "e2", closed), Outcome::kSuppressed);
  EXPECT_EQ(state.Offer("acct|H100", 5 * kMinute, "e3", closed), Outcome::kSuppressed);
  EXPECT_EQ(state.Offer("acct|A100", 6 * kMinute, "x1", closed), Outcome::kRaise);
  EXPECT_TRUE(closed.empty());
  EXPECT_EQ(state.suppressed(), 2u);
  EXPECT_EQ(state.open_windows(), 2u);
}

TEST(SuppressionTest, AMatchAtTheWindowsEndClosesItAndOpensTheNext) {
  SuppressionState state(60 * kMinute, 100);
  std::vector<SuppressionSummary> closed;
  EXPECT_EQ(state.Offer("k", 0, "e1", closed), Outcome::kRaise);
  EXPECT_EQ(state.Offer("k", 59 * kMinute, "e2", closed), Outcome::kSuppressed);
  EXPECT_EQ(state.Offer("k", 60 * kMinute, "e3", closed), Outcome::kRaise);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].key, "k");
  EXPECT_EQ(closed[0].count, 1u);
  EXPECT_EQ(closed[0].window_start_ms, 0);
  EXPECT_EQ(closed[0].window_end_ms, 60 * kMinute);
  EXPECT_EQ(closed[0].first_seen_ms, 59 * kMinute);
  EXPECT_EQ(closed[0].last_event_id, "e2");
  // The new window starts at e3.
  EXPECT_EQ(state.Offer("k", 119 * kMinute, "e4", closed), Outcome::kSuppressed);
}

TEST(SuppressionTest, AWindowWithoutSuppressedMatchesClosesSilently) {
  SuppressionState state(60 * kMinute, 100);
  std::vector<SuppressionSummary> closed;
  EXPECT_EQ(state.Offer("k", 0, "e1", closed), Outcome::kRaise);
  EXPECT_EQ(state.Offer("k", 61 * kMinute, "e2", closed), Outcome::kRaise);
  EXPECT_TRUE(closed.empty());
  state.AdvanceTo(200 * kMinute, closed);
  EXPECT_TRUE(closed.empty());
  EXPECT_EQ(state.open_windows(), 0u);
}

TEST(SuppressionTest, TheStreamsEventTimeClosesWindowsInEndThenKeyOrder) {
  SuppressionState state(10 * kMinute, 100);
  std::vector<SuppressionSummary> closed;
  for (const char* key : {"b", "a", "c"}) {
    EXPECT_EQ(state.Offer(key, 0, std::string(key) + "1", closed), Outcome::kRaise);
    EXPECT_EQ(state.Offer(key, 1, std::string(key) + "2", closed), Outcome::kSuppressed);
  }
  EXPECT_EQ(state.Offer("d", 5 * kMinute, "d1", closed), Outcome::kRaise);
  EXPECT_EQ(state.Offer("d", 6 * kMinute, "d2", closed), Outcome::kSuppressed);
  state.AdvanceTo(10 * kMinute - 1, closed);
  EXPECT_TRUE(closed.empty());
  state.AdvanceTo(10 * kMinute, closed);  // reaching the end closes
  ASSERT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed[0].key, "a");
  EXPECT_EQ(closed[1].key, "b");
  EXPECT_EQ(closed[2].key, "c");
  closed.clear();
  state.AdvanceTo(15 * kMinute, closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].key, "d");
}

TEST(SuppressionTest, FlushClosesEveryWindowAtTheEndOfTheInput) {
  SuppressionState state(60 * kMinute, 100);
  std::vector<SuppressionSummary> closed;
  EXPECT_EQ(state.Offer("x", 5, "x1", closed), Outcome::kRaise);
  EXPECT_EQ(state.Offer("y", 1, "y1", closed), Outcome::kRaise);
  EXPECT_EQ(state.Offer("y", 2, "y2", closed), Outcome::kSuppressed);
  EXPECT_EQ(state.Offer("x", 6, "x2", closed), Outcome::kSuppressed);
  state.Flush(closed);
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[0].key, "y");  // its window ends first
  EXPECT_EQ(closed[1].key, "x");
  EXPECT_EQ(state.open_windows(), 0u);
}

TEST(SuppressionTest, EvictionClosesTheWindowThatEndsFirstWithItsSummary) {
  SuppressionState state(60 * kMinute, 2);
  std::vector<SuppressionSummary> closed;
  EXPECT_EQ(state.Offer("a", 10, "a1", closed), Outcome::kRaise);
  EXPECT_EQ(state.Offer("a", 11, "a2", closed), Outcome::kSuppressed);
  EXPECT_EQ(state.Offer("b", 0, "b1", closed), Outcome::kRaise);
  EXPECT_EQ(state.Offer("c", 20, "c1", closed), Outcome::kRaise);  // b ends first: closed
  EXPECT_TRUE(closed.empty());                                     // b had nothing suppressed
  EXPECT_EQ(state.evictions(), 1u);
  EXPECT_EQ(state.Offer("d", 30, "d1", closed), Outcome::kRaise);  // then a, with its count
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].key, "a");
  EXPECT_EQ(closed[0].count, 1u);
  EXPECT_EQ(state.evictions(), 2u);
  EXPECT_EQ(state.open_windows(), 2u);
}

TEST(SuppressionTest, TheLastTwentySuppressedEventsAreListedInOrder) {
  SuppressionState state(60 * kMinute, 100);
  std::vector<SuppressionSummary> closed;
  EXPECT_EQ(state.Offer("k", 0, "first", closed), Outcome::kRaise);
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(state.Offer("k", 100 + i, "e" + std::to_string(i), closed), Outcome::kSuppressed);
  }
  state.Flush(closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].count, 25u);
  ASSERT_EQ(closed[0].events.size(), 20u);
  EXPECT_EQ(closed[0].events.front(), "e5");
  EXPECT_EQ(closed[0].events.back(), "e24");
  EXPECT_EQ(closed[0].last_event_id, "e24");
  EXPECT_EQ(closed[0].first_seen_ms, 100);
  EXPECT_EQ(closed[0].last_seen_ms, 124);
}

}  // namespace
}  // namespace chipwatch
