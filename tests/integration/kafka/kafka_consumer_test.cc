// KafkaConsumer against a real broker: group consumption, committed offsets, cooperative
// rebalancing between two members, pause/resume, wake-up, lag, secrets kept out of errors.
#include "source/kafka_consumer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "kafka_test_util.h"

namespace chipwatch {
namespace {

using kafka_test::BrokerAddress;
using kafka_test::CreateTopic;
using kafka_test::ProduceTestRecords;
using kafka_test::Received;
using kafka_test::SourceConfig;
using kafka_test::TestConsumer;
using kafka_test::UniqueName;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::set<std::string> Values(const std::vector<Received>& received) {
  std::set<std::string> out;
  for (const Received& r : received) out.insert(r.value);
  return out;
}

std::set<std::string> ExpectedValues(int first, int count) {
  std::set<std::string> out;
  for (int i = first; i < first + count; ++i) out.insert("value-" + std::to_string(i));
  return out;
}

class KafkaConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override { brokers_ = BrokerAddress(); }
  // A new topic with `partitions` partitions holding test records [0, records).
  std::string TopicWith(int partitions, int records) {
    std::string topic = UniqueName("src");
    Status s = CreateTopic(brokers_, topic, partitions);
    EXPECT_TRUE(s.ok()) << s.message();
    if (records > 0) {
      s = ProduceTestRecords(brokers_, topic, 0, records);
      EXPECT_TRUE(s.ok()) << s.message();
    }
    return topic;
  }
  std::unique_ptr<TestConsumer> NewConsumer(const std::string& group, const std::string& topic) {
    auto consumer = TestConsumer::Create(SourceConfig(brokers_, group, {topic}));
    EXPECT_TRUE(consumer.ok()) << consumer.status().message();
    return consumer.ok() ? std::move(consumer).value() : nullptr;
  }

  std::string brokers_;
};

TEST_F(KafkaConsumerTest, GroupMemberOnFourPartitionsGetsEveryMessage) {
  constexpr int kRecords = 200;
  const std::string topic = TopicWith(4, kRecords);
  auto c = NewConsumer(UniqueName("g"), topic);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->consumer().FormatOf(topic), Format::kAuto);

  c->PollUntilCount(kRecords, seconds(60));
  ASSERT_EQ(c->received().size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(Values(c->received()), ExpectedValues(0, kRecords));
  EXPECT_EQ(c->assigned(), (std::set<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(c->consumer().Assignment().size(), 4u);
  std::set<int32_t> partitions_seen;
  for (const Received& r : c->received()) partitions_seen.insert(r.partition);
  EXPECT_EQ(partitions_seen.size(), 4u);

  // Lag comes from cached watermarks: poll briefly so they are fresh, then expect zero.
  c->PollOnce(milliseconds(500));
  auto lag = c->consumer().Lag();
  ASSERT_EQ(lag.size(), 4u);
  for (const auto& [tp, value] : lag) EXPECT_EQ(value, 0) << tp.topic << "[" << tp.partition << "]";
  EXPECT_FALSE(c->any_fatal());

  EXPECT_TRUE(c->consumer().Close().ok());
  EXPECT_EQ(c->revoked_partitions(), 4) << "Close() runs the final revoke";
  EXPECT_EQ(c->consumer().Poll(milliseconds(10)), nullptr);
}

TEST_F(KafkaConsumerTest, EagerAssignmentStrategyFromPropertiesWorksToo) {
  constexpr int kRecords = 60;
  const std::string topic = TopicWith(2, kRecords);
  // Operators may override the strategy; the rebalance callback then uses the eager protocol.
  auto c = TestConsumer::Create(SourceConfig(brokers_, UniqueName("g"), {topic},
                                             {{"partition.assignment.strategy", "range", {}}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  (*c)->PollUntilCount(kRecords, seconds(60));
  EXPECT_EQ(Values((*c)->received()), ExpectedValues(0, kRecords));
  EXPECT_EQ((*c)->assigned(), (std::set<int32_t>{0, 1}));
  EXPECT_TRUE((*c)->consumer().Close().ok());
  EXPECT_EQ((*c)->revoked_partitions(), 2);
  EXPECT_TRUE((*c)->errors().empty()) << (*c)->errors().front();
}

TEST_F(KafkaConsumerTest, NewMemberResumesExactlyAfterStoredOffsets) {
  constexpr int kRecords = 120;
  const std::string topic = TopicWith(2, kRecords);
  const std::string group = UniqueName("g");

  std::map<int32_t, std::vector<int64_t>> offsets;  // per partition, in order
  std::map<int32_t, int64_t> stored;                // next offset per partition
  {
    auto first = NewConsumer(group, topic);
    ASSERT_NE(first, nullptr);
    first->PollUntilCount(kRecords, seconds(60));
    ASSERT_EQ(first->received().size(), static_cast<size_t>(kRecords));
    for (const Received& r : first->received()) offsets[r.partition].push_back(r.offset);
    ASSERT_EQ(offsets.size(), 2u);
    // "Process" the first half of each partition only.
    for (const auto& [partition, list] : offsets) {
      const int64_t next = list[list.size() / 2 - 1] + 1;
      stored[partition] = next;
      Status s = first->consumer().StoreOffset({topic, partition}, next);
      ASSERT_TRUE(s.ok()) << s.message();
    }
    Status s = first->consumer().CommitSync();
    ASSERT_TRUE(s.ok()) << s.message();
    // Nothing new stored: still OK.
    s = first->consumer().CommitSync();
    EXPECT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(first->consumer().Close().ok());
    // Storing after close fails cleanly.
    EXPECT_FALSE(first->consumer().StoreOffset({topic, 0}, 1).ok());
  }

  size_t expected = 0;
  for (const auto& [partition, list] : offsets) {
    for (int64_t o : list) expected += o >= stored[partition] ? 1 : 0;
  }
  auto second = NewConsumer(group, topic);
  ASSERT_NE(second, nullptr);
  second->PollUntilCount(expected, seconds(60));
  second->PollOnce(milliseconds(1000));  // nothing more may come
  ASSERT_EQ(second->received().size(), expected);
  std::map<int32_t, int64_t> next_expected = stored;
  for (const Received& r : second->received()) {
    EXPECT_EQ(r.offset, next_expected[r.partition]) << "partition " << r.partition;
    next_expected[r.partition] = r.offset + 1;
  }
  EXPECT_TRUE(second->consumer().Close().ok());
}

TEST_F(KafkaConsumerTest, TwoMembersSplitPartitionsCooperatively) {
  constexpr int kFirstBatch = 200;
  constexpr int kSecondBatch = 200;
  const std::string topic = TopicWith(4, kFirstBatch);
  const std::string group = UniqueName("g");

  auto a = NewConsumer(group, topic);
  ASSERT_NE(a, nullptr);
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (a->assigned().size() < 4 && std::chrono::steady_clock::now() < deadline) {
    a->PollOnce(milliseconds(100));
  }
  ASSERT_EQ(a->assigned().size(), 4u);

  auto b = NewConsumer(group, topic);
  ASSERT_NE(b, nullptr);
  while ((a->assigned().size() != 2 || b->assigned().size() != 2) &&
         std::chrono::steady_clock::now() < deadline) {
    a->PollOnce(milliseconds(50));
    b->PollOnce(milliseconds(50));
  }
  ASSERT_EQ(a->assigned().size(), 2u);
  ASSERT_EQ(b->assigned().size(), 2u);
  std::set<int32_t> all = a->assigned();
  all.insert(b->assigned().begin(), b->assigned().end());
  EXPECT_EQ(all.size(), 4u) << "the members' assignments must not overlap";
  // Cooperative: A gave up exactly two partitions (incrementally, not lost) and kept two.
  EXPECT_EQ(a->revoked_partitions(), 2);
  EXPECT_FALSE(a->any_lost());
  EXPECT_GE(b->assigned_events(), 1);
  EXPECT_EQ(b->revoked_events(), 0);

  ASSERT_TRUE(ProduceTestRecords(brokers_, topic, kFirstBatch, kSecondBatch).ok());
  const std::set<std::string> expected = ExpectedValues(0, kFirstBatch + kSecondBatch);
  auto both = [&] {
    std::set<std::string> seen = Values(a->received());
    for (const std::string& v : Values(b->received())) seen.insert(v);
    return seen;
  };
  while (both() != expected && std::chrono::steady_clock::now() < deadline + seconds(30)) {
    // Drain each member while it has messages, so one idle member does not slow the other down.
    while (a->PollOnce(milliseconds(10))) {
    }
    while (b->PollOnce(milliseconds(10))) {
    }
  }
  EXPECT_EQ(both(), expected);
  EXPECT_FALSE(a->received().empty());
  EXPECT_FALSE(b->received().empty());
  for (const Received& r : b->received()) EXPECT_TRUE(b->assigned().count(r.partition));

  EXPECT_TRUE(b->consumer().Close().ok());
  EXPECT_TRUE(a->consumer().Close().ok());
  EXPECT_FALSE(a->any_fatal());
  EXPECT_FALSE(b->any_fatal());
}

TEST_F(KafkaConsumerTest, PauseAllStopsDeliveryAndResumeAllResumesWhereItStopped) {
  constexpr int kBatch = 50;
  const std::string topic = TopicWith(2, kBatch);
  auto c = NewConsumer(UniqueName("g"), topic);
  ASSERT_NE(c, nullptr);
  c->PollUntilCount(kBatch, seconds(60));
  ASSERT_EQ(c->received().size(), static_cast<size_t>(kBatch));
  std::map<int32_t, int64_t> last;
  for (const Received& r : c->received()) last[r.partition] = r.offset;

  c->consumer().PauseAll();
  ASSERT_TRUE(ProduceTestRecords(brokers_, topic, kBatch, kBatch).ok());
  const auto pause_end = std::chrono::steady_clock::now() + seconds(3);
  while (std::chrono::steady_clock::now() < pause_end) c->PollOnce(milliseconds(200));
  EXPECT_EQ(c->received().size(), static_cast<size_t>(kBatch)) << "delivered while paused";

  c->consumer().ResumeAll();
  c->PollUntilCount(2 * kBatch, seconds(30));
  ASSERT_EQ(c->received().size(), static_cast<size_t>(2 * kBatch));
  EXPECT_EQ(Values(c->received()), ExpectedValues(0, 2 * kBatch));
  for (size_t i = kBatch; i < c->received().size(); ++i) {
    const Received& r = c->received()[i];
    EXPECT_EQ(r.offset, last[r.partition] + 1) << "partition " << r.partition;
    last[r.partition] = r.offset;
  }
  EXPECT_TRUE(c->errors().empty()) << c->errors().front();
  EXPECT_TRUE(c->consumer().Close().ok());
}

TEST_F(KafkaConsumerTest, PartitionsAssignedWhilePausedStayPaused) {
  constexpr int kRecords = 40;
  const std::string topic = TopicWith(2, kRecords);
  auto c = NewConsumer(UniqueName("g"), topic);
  ASSERT_NE(c, nullptr);
  c->consumer().PauseAll();  // before the first assignment
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (c->assigned().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    c->PollOnce(milliseconds(100));
  }
  ASSERT_EQ(c->assigned().size(), 2u);
  const auto pause_end = std::chrono::steady_clock::now() + seconds(3);
  while (std::chrono::steady_clock::now() < pause_end) c->PollOnce(milliseconds(200));
  EXPECT_TRUE(c->received().empty()) << "delivered " << c->received().size() << " while paused";

  c->consumer().ResumeAll();
  c->PollUntilCount(kRecords, seconds(30));
  EXPECT_EQ(Values(c->received()), ExpectedValues(0, kRecords));
  EXPECT_TRUE(c->errors().empty()) << c->errors().front();
  EXPECT_TRUE(c->consumer().Close().ok());
}

TEST_F(KafkaConsumerTest, WakeMakesABlockedPollReturn) {
  const std::string topic = TopicWith(1, 0);
  auto c = NewConsumer(UniqueName("g"), topic);
  ASSERT_NE(c, nullptr);
  std::thread waker([&] {
    std::this_thread::sleep_for(milliseconds(300));
    c->consumer().Wake();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c->consumer().Poll(seconds(20)), nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  waker.join();
  EXPECT_TRUE(c->consumer().Close().ok());
  c->consumer().Wake();  // harmless after Close()
}

TEST_F(KafkaConsumerTest, SecretValuesNeverAppearInErrors) {
  // Unknown property next to a secret.
  auto unknown = KafkaConsumer::Create(
      SourceConfig(brokers_, "g", {"t"},
                   {{"sasl.password", "hunter2", {}}, {"no.such.property", "x", {}}}),
      {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no.such.property"), std::string::npos);
  EXPECT_EQ(unknown.status().message().find("hunter2"), std::string::npos)
      << unknown.status().message();

  // Invalid value: the property is named, the value is not echoed.
  auto invalid = KafkaConsumer::Create(
      SourceConfig(brokers_, "g", {"t"},
                   {{"sasl.password", "hunter2", {}}, {"session.timeout.ms", "hunter2", {}}}),
      {});
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find("session.timeout.ms"), std::string::npos)
      << invalid.status().message();
  EXPECT_EQ(invalid.status().message().find("hunter2"), std::string::npos)
      << invalid.status().message();

  // At run time: SASL/PLAIN against a PLAINTEXT listener fails; the reports must not quote it.
  const std::string topic = TopicWith(1, 0);
  auto c = TestConsumer::Create(SourceConfig(brokers_, UniqueName("g"), {topic},
                                             {{"security.protocol", "sasl_plaintext", {}},
                                              {"sasl.mechanism", "PLAIN", {}},
                                              {"sasl.username", "chipwatch", {}},
                                              {"sasl.password", "hunter2", {}},
                                              {"debug", "security,conf", {}}}));
  if (!c.ok()) {
    EXPECT_EQ(c.status().message().find("hunter2"), std::string::npos) << c.status().message();
    return;
  }
  const auto end = std::chrono::steady_clock::now() + seconds(3);
  while (std::chrono::steady_clock::now() < end) (*c)->PollOnce(milliseconds(200));
  EXPECT_FALSE((*c)->errors().empty()) << "the failing handshake should be reported";
  for (const std::string& e : (*c)->errors()) EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  (void)(*c)->consumer().Close();
}

}  // namespace
}  // namespace chipwatch
