// KafkaSink against a real broker: keyed records with headers, exactly-once callbacks, delivery
// across a broker outage, secrets kept out of errors.
#include "sink/kafka_sink.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "kafka_test_util.h"

namespace chipwatch {
namespace {

using kafka_test::BrokerAddress;
using kafka_test::CreateTopic;
using kafka_test::Received;
using kafka_test::SinkConfig;
using kafka_test::SourceConfig;
using kafka_test::TestConsumer;
using kafka_test::TestRecord;
using kafka_test::UniqueName;

// Collects sink errors from the callback thread.
struct ErrorLog {
  std::mutex mu;
  std::vector<std::string> messages;
  std::atomic<bool> fatal{false};
  std::function<void(bool, const std::string&)> Callback() {
    return [this](bool is_fatal, const std::string& message) {
      std::lock_guard<std::mutex> lock(mu);
      if (is_fatal) fatal = true;
      messages.push_back(message);
    };
  }
};

TEST(KafkaSinkTest, ProducesKeyedRecordsWithHeadersAndAcknowledgesEachOnce) {
  const std::string brokers = BrokerAddress();
  const std::string topic = UniqueName("sink-keyed");
  ASSERT_TRUE(CreateTopic(brokers, topic, 3).ok());

  ErrorLog errors;
  auto sink = CreateKafkaSink(SinkConfig(brokers, topic), errors.Callback());
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  EXPECT_EQ((*sink)->name(), "kafka:" + topic);

  constexpr int kRecords = 500;
  std::vector<std::atomic<int>> ok_calls(kRecords);
  std::vector<std::atomic<int>> failed_calls(kRecords);
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE((*sink)
                    ->Deliver(TestRecord(i),
                              [&, i](const Status& s) { (s.ok() ? ok_calls : failed_calls)[i]++; })
                    .ok());
  }
  ASSERT_TRUE((*sink)->Flush(std::chrono::seconds(30)));
  EXPECT_EQ((*sink)->pending(), 0u);
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(ok_calls[i].load(), 1) << "record " << i;
    EXPECT_EQ(failed_calls[i].load(), 0) << "record " << i;
  }
  EXPECT_FALSE(errors.fatal.load());

  auto consumer = TestConsumer::Create(SourceConfig(brokers, UniqueName("g"), {topic}));
  ASSERT_TRUE(consumer.ok()) << consumer.status().message();
  (*consumer)->PollUntilCount(kRecords, std::chrono::seconds(60));
  const std::vector<Received>& got = (*consumer)->received();
  ASSERT_EQ(got.size(), static_cast<size_t>(kRecords));

  std::map<int32_t, int> last_seq_in_partition;
  std::map<int32_t, int64_t> last_offset_in_partition;
  std::vector<int> seen(kRecords, 0);
  for (const Received& r : got) {
    ASSERT_EQ(r.headers.size(), 2u);
    EXPECT_EQ(r.headers[0].first, "seq");
    EXPECT_EQ(r.headers[1], std::make_pair(std::string("origin"), std::string("chipwatch-test")));
    const int seq = std::stoi(r.headers[0].second);
    ASSERT_GE(seq, 0);
    ASSERT_LT(seq, kRecords);
    ++seen[seq];
    EXPECT_EQ(r.key, "key-" + std::to_string(seq));
    EXPECT_EQ(r.value, "value-" + std::to_string(seq));
    EXPECT_GT(r.timestamp_ms, 0);
    // Same key, same partition; within a partition, production order and dense offsets.
    if (auto it = last_seq_in_partition.find(r.partition); it != last_seq_in_partition.end()) {
      EXPECT_GT(seq, it->second) << "order broken in partition " << r.partition;
      EXPECT_EQ(r.offset, last_offset_in_partition[r.partition] + 1);
    }
    last_seq_in_partition[r.partition] = seq;
    last_offset_in_partition[r.partition] = r.offset;
  }
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(seen[i], 1) << "record " << i;
  EXPECT_EQ(last_seq_in_partition.size(), 3u) << "keys should spread over the 3 partitions";
  EXPECT_TRUE((*consumer)->consumer().Close().ok());
}

TEST(KafkaSinkTest, TooLargeRecordFailsItsCallbackOnly) {
  const std::string brokers = BrokerAddress();
  const std::string topic = UniqueName("sink-large");
  ASSERT_TRUE(CreateTopic(brokers, topic, 1).ok());
  auto sink =
      CreateKafkaSink(SinkConfig(brokers, topic, {{"message.max.bytes", "10000", {}}}), nullptr);
  ASSERT_TRUE(sink.ok()) << sink.status().message();

  std::vector<Status> results(2);
  std::atomic<int> calls{0};
  SinkRecord big;
  big.value.assign(20000, 'x');
  ASSERT_TRUE(
      (*sink)->Deliver(std::move(big), [&](const Status& s) { results[0] = s, calls++; }).ok());
  ASSERT_TRUE(
      (*sink)->Deliver(TestRecord(1), [&](const Status& s) { results[1] = s, calls++; }).ok());
  ASSERT_TRUE((*sink)->Flush(std::chrono::seconds(30)));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(results[0].code(), Status::Code::kTooLarge) << results[0].message();
  EXPECT_TRUE(results[1].ok()) << results[1].message();
  EXPECT_EQ((*sink)->pending(), 0u);
}

TEST(KafkaSinkTest, FullQueueBlocksDeliverUntilThereIsRoom) {
  const std::string brokers = BrokerAddress();
  const std::string topic = UniqueName("sink-backpressure");
  ASSERT_TRUE(CreateTopic(brokers, topic, 2).ok());
  // A tiny local queue: most Deliver() calls find it full and must wait for delivery reports.
  auto sink = CreateKafkaSink(
      SinkConfig(brokers, topic, {{"queue.buffering.max.messages", "5", {}}}), nullptr);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  constexpr int kPerThread = 150;
  std::vector<std::atomic<int>> calls(2 * kPerThread);
  std::atomic<int> failures{0};
  auto produce = [&](int first) {
    for (int i = first; i < first + kPerThread; ++i) {
      Status s = (*sink)->Deliver(TestRecord(i), [&, i](const Status& st) {
        calls[i]++;
        if (!st.ok()) failures++;
      });
      if (!s.ok()) failures++;
    }
  };
  std::thread t1(produce, 0);
  std::thread t2(produce, kPerThread);
  t1.join();
  t2.join();
  ASSERT_TRUE((*sink)->Flush(std::chrono::seconds(30)));
  EXPECT_EQ(failures.load(), 0);
  for (int i = 0; i < 2 * kPerThread; ++i) EXPECT_EQ(calls[i].load(), 1) << "record " << i;
  EXPECT_EQ((*sink)->pending(), 0u);
}

// Stops a broker on scope exit, so a failing test does not leave it running.
struct BrokerGuard {
  int port;
  ~BrokerGuard() { kafka_test::RunKafkaLocal(port, "stop"); }
};

TEST(KafkaSinkTest, DeliverSucceedsWhileBrokerIsDownAndCallbacksArriveWhenItReturns) {
  const auto test_start = std::chrono::steady_clock::now();
  // A broker of our own, so stopping it does not disturb the other tests.
  const int port = kafka_test::BrokerPort() + 100;
  const std::string brokers = BrokerAddress(port);
  BrokerGuard guard{port};
  ASSERT_EQ(kafka_test::RunKafkaLocal(port, "start"), 0);
  const std::string topic = UniqueName("sink-outage");
  ASSERT_TRUE(CreateTopic(brokers, topic, 1).ok());

  ErrorLog errors;
  // Reconnect quickly once the broker is back (librdkafka's default backoff grows to 10 s).
  auto sink = CreateKafkaSink(
      SinkConfig(brokers, topic,
                 {{"reconnect.backoff.ms", "100", {}}, {"reconnect.backoff.max.ms", "500", {}}}),
      errors.Callback());
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  std::atomic<int> ok_calls{0};
  std::atomic<int> failed_calls{0};
  auto count = [&](const Status& s) { (s.ok() ? ok_calls : failed_calls)++; };
  ASSERT_TRUE((*sink)->Deliver(TestRecord(0), count).ok());
  ASSERT_TRUE((*sink)->Flush(std::chrono::seconds(30)));
  ASSERT_EQ(ok_calls.load(), 1);

  // A second sink whose local queue holds 10 records: it shows the backpressure.
  auto small = CreateKafkaSink(SinkConfig(brokers, topic,
                                          {{"queue.buffering.max.messages", "10", {}},
                                           {"reconnect.backoff.ms", "100", {}},
                                           {"reconnect.backoff.max.ms", "500", {}}}),
                               nullptr);
  ASSERT_TRUE(small.ok()) << small.status().message();
  std::atomic<int> small_ok{0};
  auto count_small = [&](const Status& s) {
    if (s.ok()) small_ok++;
  };
  ASSERT_TRUE((*small)->Deliver(TestRecord(1000), count_small).ok());
  ASSERT_TRUE((*small)->Flush(std::chrono::seconds(30)));

  ASSERT_EQ(kafka_test::RunKafkaLocal(port, "stop"), 0);
  for (int i = 1; i <= 10; ++i)
    ASSERT_TRUE((*small)->Deliver(TestRecord(1000 + i), count_small).ok());
  std::atomic<bool> blocked_deliver_returned{false};
  std::thread blocked([&] {
    EXPECT_TRUE((*small)->Deliver(TestRecord(1011), count_small).ok());
    blocked_deliver_returned = true;
  });
  constexpr int kRecords = 100;
  const auto deliver_start = std::chrono::steady_clock::now();
  // EXPECT, not ASSERT, until `blocked` is joined below.
  for (int i = 1; i <= kRecords; ++i) EXPECT_TRUE((*sink)->Deliver(TestRecord(i), count).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - deliver_start, std::chrono::seconds(2))
      << "Deliver() must not block while the queue has room";
  EXPECT_FALSE((*sink)->Flush(std::chrono::seconds(2)));
  EXPECT_EQ(ok_calls.load(), 1);
  EXPECT_EQ(failed_calls.load(), 0) << "nothing may be dropped while the broker is away";
  EXPECT_EQ((*sink)->pending(), static_cast<size_t>(kRecords));

  EXPECT_FALSE(blocked_deliver_returned.load()) << "Deliver() must block while the queue is full";

  const int restarted = kafka_test::RunKafkaLocal(port, "start", /*keep_data=*/true);
  blocked
      .join();  // returns once the broker is back and the queue drains (ctest's TIMEOUT bounds it)
  ASSERT_EQ(restarted, 0);
  EXPECT_TRUE(blocked_deliver_returned.load());
  EXPECT_TRUE((*small)->Flush(std::chrono::seconds(45)));
  EXPECT_EQ(small_ok.load(), 12);
  EXPECT_TRUE((*sink)->Flush(std::chrono::seconds(45)));
  EXPECT_EQ(ok_calls.load(), kRecords + 1);
  EXPECT_EQ(failed_calls.load(), 0);
  EXPECT_EQ((*sink)->pending(), 0u);
  {
    std::lock_guard<std::mutex> lock(errors.mu);
    EXPECT_FALSE(errors.messages.empty()) << "the outage should have been reported";
    EXPECT_FALSE(errors.fatal.load());
  }

  // Every record exactly once (the idempotent producer does not duplicate on retry).
  auto consumer = TestConsumer::Create(SourceConfig(brokers, UniqueName("g"), {topic}));
  ASSERT_TRUE(consumer.ok()) << consumer.status().message();
  (*consumer)->PollUntilCount(kRecords + 1 + 12, std::chrono::seconds(30));
  (*consumer)->PollOnce(std::chrono::milliseconds(500));
  // Both sinks wrote to the single partition; each sink's records arrive once and in order.
  std::vector<std::string> main_values;
  std::vector<std::string> small_values;
  for (const Received& r : (*consumer)->received()) {
    (r.key.size() == 8 ? small_values : main_values).push_back(r.value);  // key-1000..key-1011
  }
  ASSERT_EQ(main_values.size(), static_cast<size_t>(kRecords + 1));
  for (size_t i = 0; i < main_values.size(); ++i) {
    EXPECT_EQ(main_values[i], "value-" + std::to_string(i));
  }
  ASSERT_EQ(small_values.size(), 12u);
  for (size_t i = 0; i < small_values.size(); ++i) {
    EXPECT_EQ(small_values[i], "value-" + std::to_string(1000 + i));
  }
  EXPECT_TRUE((*consumer)->consumer().Close().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - test_start, std::chrono::seconds(90));
}

TEST(KafkaSinkTest, SecretValuesNeverAppearInErrors) {
  const std::string brokers = BrokerAddress();
  // An unknown property next to a secret.
  auto unknown = CreateKafkaSink(
      SinkConfig(brokers, "t",
                 {{"sasl.password", "hunter2", {}}, {"no.such.property", "hunter2", {}}}),
      nullptr);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no.such.property"), std::string::npos)
      << unknown.status().message();
  EXPECT_EQ(unknown.status().message().find("hunter2"), std::string::npos)
      << unknown.status().message();

  // An invalid value for a known property: named, value not echoed.
  auto invalid = CreateKafkaSink(
      SinkConfig(brokers, "t", {{"sasl.password", "hunter2", {}}, {"linger.ms", "hunter2", {}}}),
      nullptr);
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find("linger.ms"), std::string::npos)
      << invalid.status().message();
  EXPECT_EQ(invalid.status().message().find("hunter2"), std::string::npos)
      << invalid.status().message();

  // An invalid value for a secret property.
  auto secret = CreateKafkaSink(
      SinkConfig(brokers, "t", {{"security.protocol", "ssl", {}}, {"ssl.key.pem", "hunter2", {}}}),
      nullptr);
  if (!secret.ok()) {
    EXPECT_EQ(secret.status().message().find("hunter2"), std::string::npos)
        << secret.status().message();
  }
}

}  // namespace
}  // namespace chipwatch
