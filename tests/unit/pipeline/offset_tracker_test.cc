#include "pipeline/offset_tracker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <thread>

namespace chipwatch {
namespace {

const TopicPartition kP0{"cloudtrail", 0};
const TopicPartition kP1{"cloudtrail", 1};

TEST(OffsetTrackerTest, CommitsOnlyTheDonePrefix) {
  OffsetTracker t;
  t.Assign(kP0);
  auto a = t.Begin(kP0, 10);
  auto b = t.Begin(kP0, 11);
  auto c = t.Begin(kP0, 12);
  EXPECT_EQ(t.in_flight(), 3u);
  t.Done(b);  // 10 still pending: nothing committable
  EXPECT_TRUE(t.TakeCommittable().empty());
  t.Done(a);  // 10 and 11 done
  auto first = t.TakeCommittable();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].first, kP0);
  EXPECT_EQ(first[0].second, 12);
  EXPECT_TRUE(t.TakeCommittable().empty()) << "reported once";
  t.Done(c);
  EXPECT_EQ(t.TakeCommittable()[0].second, 13);
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(OffsetTrackerTest, BeginByNameSharesThePartitionOfBeginByTopicPartition) {
  OffsetTracker t;
  t.Assign(kP0);
  const std::string topic = "cloudtrail";  // a view of another string than kP0's
  auto a = t.Begin(std::string_view(topic), 0, 10);
  auto b = t.Begin(kP0, 11);
  auto c = t.Begin(std::string_view(topic), 1, 3);  // before its assignment: tracked anyway
  EXPECT_EQ(t.in_flight(), 3u);
  EXPECT_EQ(t.in_flight({kP0}), 2u);
  t.Done(a);
  t.Done(b);
  t.Done(c);
  auto committable = t.TakeCommittable();
  ASSERT_EQ(committable.size(), 2u);
  EXPECT_EQ(committable[0].first, kP0);
  EXPECT_EQ(committable[0].second, 12);
  EXPECT_EQ(committable[1].first, kP1);
  EXPECT_EQ(committable[1].second, 4);
  t.Revoke(kP0);
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(OffsetTrackerTest, AFailedMessageIsNeverCommittedPast) {
  OffsetTracker t;
  t.Assign(kP0);
  auto a = t.Begin(kP0, 10);
  auto b = t.Begin(kP0, 11);
  auto c = t.Begin(kP0, 12);
  t.Done(a);
  t.Fail(b);  // a record of 11 could be delivered nowhere
  t.Done(c);
  EXPECT_EQ(t.in_flight(), 0u) << "a failed message is not waited for";
  EXPECT_TRUE(t.WaitIdle({}, std::chrono::milliseconds(0)));
  auto committable = t.TakeCommittable();
  ASSERT_EQ(committable.size(), 1u);
  EXPECT_EQ(committable[0].second, 11) << "up to the failed message, never past it";
  t.Done(b);  // a late acknowledgement does not undo the failure
  auto d = t.Begin(kP0, 13);
  t.Done(d);
  EXPECT_TRUE(t.TakeCommittable().empty());
  t.Fail(b);  // idempotent
  EXPECT_EQ(t.in_flight(), 0u);
  t.Assign(kP0);  // a new assignment starts from the committed position again
  auto e = t.Begin(kP0, 11);
  t.Done(e);
  EXPECT_EQ(t.TakeCommittable()[0].second, 12);
}

TEST(OffsetTrackerTest, GapsInOffsetsAreFine) {
  OffsetTracker t;
  t.Assign(kP0);
  auto a = t.Begin(kP0, 100);
  auto b = t.Begin(kP0, 250);  // compaction or transaction markers skip offsets
  t.Done(b);
  t.Done(a);
  EXPECT_EQ(t.TakeCommittable()[0].second, 251);
}

TEST(OffsetTrackerTest, DoneIsIdempotentAndIgnoredAfterRevoke) {
  OffsetTracker t;
  t.Assign(kP0);
  auto a = t.Begin(kP0, 1);
  auto b = t.Begin(kP0, 2);
  t.Done(a);
  t.Done(a);
  EXPECT_EQ(t.in_flight(), 1u);
  t.Revoke(kP0);
  EXPECT_EQ(t.in_flight(), 0u);
  t.Done(b);  // late acknowledgement of a revoked partition
  EXPECT_TRUE(t.TakeCommittable().empty());
  t.Assign(kP0);  // a new generation starts clean
  auto c = t.Begin(kP0, 2);
  t.Done(b);  // the old ticket does not touch the new generation
  EXPECT_EQ(t.in_flight(), 1u);
  t.Done(c);
  EXPECT_EQ(t.TakeCommittable()[0].second, 3);
}

TEST(OffsetTrackerTest, PartitionsAreIndependentAndFilterable) {
  OffsetTracker t;
  t.Assign(kP0);
  t.Assign(kP1);
  auto a = t.Begin(kP0, 5);
  auto b = t.Begin(kP1, 7);
  t.Done(b);
  EXPECT_EQ(t.in_flight({kP0}), 1u);
  EXPECT_EQ(t.in_flight({kP1}), 0u);
  EXPECT_TRUE(t.TakeCommittable({kP0}).empty());
  auto p1 = t.TakeCommittable({kP1});
  ASSERT_EQ(p1.size(), 1u);
  EXPECT_EQ(p1[0].second, 8);
  t.Done(a);
  EXPECT_EQ(t.TakeCommittable()[0].second, 6);
}

TEST(OffsetTrackerTest, WaitIdleWakesWhenTheLastAckArrives) {
  OffsetTracker t;
  t.Assign(kP0);
  auto a = t.Begin(kP0, 1);
  EXPECT_FALSE(t.WaitIdle({kP0}, std::chrono::milliseconds(20)));
  std::thread acker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    t.Done(a);
  });
  EXPECT_TRUE(t.WaitIdle({kP0}, std::chrono::seconds(5)));
  acker.join();
}

TEST(OffsetTrackerTest, ConcurrentAcksInRandomOrderCommitEverything) {
  OffsetTracker t;
  t.Assign(kP0);
  std::vector<OffsetTracker::Ticket> tickets;
  for (int64_t i = 0; i < 10000; ++i) tickets.push_back(t.Begin(kP0, i));
  std::shuffle(tickets.begin(), tickets.end(), std::mt19937(42));
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = k; i < tickets.size(); i += 4) t.Done(tickets[i]);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_EQ(t.TakeCommittable()[0].second, 10000);
}

}  // namespace
}  // namespace chipwatch
