// Helpers for the Kafka integration tests: broker address, unique topic names, topic creation
// through librdkafka's admin API, driving scripts/kafka-local, and a consumer wrapper that records
// what its callbacks saw.
//
// Thread contract: test-thread only, like the consumer they wrap.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/status.h"
#include "sink/sink.h"
#include "source/kafka_consumer.h"

namespace chipwatch::kafka_test {

// The port of the fixture broker: $KAFKA_PORT, default 19092.
int BrokerPort();
// "127.0.0.1:<port>".
std::string BrokerAddress(int port = BrokerPort());
// A topic or group name no other test (or earlier run) uses.
std::string UniqueName(std::string_view prefix);

// Creates `topic` through the admin API and waits until every partition has a leader.
Status CreateTopic(const std::string& brokers, const std::string& topic, int partitions);

// Runs `scripts/kafka-local <action>` for a broker on `port` (same CHIPWATCH_CACHE as the fixture,
// so the jars are shared; the state directory is per port). Returns the exit status.
int RunKafkaLocal(int port, const std::string& action, bool keep_data = false);

KafkaSourceConfig SourceConfig(const std::string& brokers, const std::string& group,
                               const std::vector<std::string>& topics,
                               std::vector<KafkaProperty> properties = {});
KafkaSinkConfig SinkConfig(const std::string& brokers, const std::string& topic,
                           std::vector<KafkaProperty> properties = {});

// The record the tests produce as number `i`: key "key-<i>", value "value-<i>", headers
// ("seq", "<i>") and ("origin", "chipwatch-test").
SinkRecord TestRecord(int i);

// Produces records [first, first + count) through a fresh sink and waits until all are
// acknowledged; returns the first failure.
Status ProduceTestRecords(const std::string& brokers, const std::string& topic, int first,
                          int count);

struct Received {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = -1;
};

// A KafkaConsumer plus everything its callbacks reported.
class TestConsumer {
 public:
  static Result<std::unique_ptr<TestConsumer>> Create(const KafkaSourceConfig& config);

  KafkaConsumer& consumer() { return *consumer_; }
  // Partitions assigned now, according to on_assigned/on_revoked.
  const std::set<int32_t>& assigned() const { return assigned_; }
  int assigned_events() const { return assigned_events_; }
  int revoked_events() const { return revoked_events_; }
  int revoked_partitions() const { return revoked_partitions_; }
  bool any_lost() const { return any_lost_; }
  const std::vector<std::string>& errors() const { return errors_; }
  bool any_fatal() const { return any_fatal_; }
  std::vector<Received>& received() { return received_; }

  // Polls once (up to `timeout`); appends a message to received(). True when one arrived.
  bool PollOnce(std::chrono::milliseconds timeout);
  // Polls until received() holds at least `count` messages or `timeout` passes.
  void PollUntilCount(size_t count, std::chrono::milliseconds timeout);

 private:
  TestConsumer() = default;

  std::unique_ptr<KafkaConsumer> consumer_;
  std::set<int32_t> assigned_;
  int assigned_events_ = 0;
  int revoked_events_ = 0;
  int revoked_partitions_ = 0;
  bool any_lost_ = false;
  bool any_fatal_ = false;
  std::vector<std::string> errors_;
  std::vector<Received> received_;
};

}  // namespace chipwatch::kafka_test
