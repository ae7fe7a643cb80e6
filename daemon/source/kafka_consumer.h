// KafkaConsumer: a librdkafka high-level consumer in a consumer group, for at-least-once use.
//
// Cooperative-sticky assignment; offsets are never committed behind the daemon's back:
// enable.auto.offset.store=false, and the owner stores an offset (StoreOffset) only once every
// alert raised by the messages before it is acknowledged by every sink; librdkafka then commits
// stored offsets periodically, and CommitSync() commits them now. Rebalance callbacks run inside
// Poll() on the polling thread. librdkafka types never appear in this header.
// Thread contract: every method is called from the one polling thread, except Wake(), which any
// thread may call. Every callback (rebalance, errors, librdkafka log lines) runs on the polling
// thread, inside Poll() or Close().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/event.h"
#include "core/status.h"

namespace chipwatch {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator==(const TopicPartition&) const = default;
};

// A consumed message. Owns librdkafka's message; views are valid while it lives. Move-only.
// Destroy every message before the consumer that returned it.
class KafkaMessage {
 public:
  virtual ~KafkaMessage() = default;
  virtual std::string_view topic() const = 0;
  virtual int32_t partition() const = 0;
  virtual int64_t offset() const = 0;
  virtual std::string_view payload() const = 0;
  virtual std::string_view key() const = 0;
  // Headers as (name, value) pairs, in order.
  virtual std::vector<std::pair<std::string, std::string>> headers() const = 0;
  virtual int64_t timestamp_ms() const = 0;  // producer/broker timestamp, -1 when unknown
};

struct ConsumerCallbacks {
  // Partitions newly assigned to this member (incremental).
  std::function<void(const std::vector<TopicPartition>&)> on_assigned;
  // Partitions about to be taken away (incremental) or lost. Called before they are unassigned,
  // so the owner can finish in-flight work, StoreOffset() and CommitSync() for them.
  std::function<void(const std::vector<TopicPartition>&, bool lost)> on_revoked;
  // Errors and state changes worth a log line (broker down, all brokers down, auth failures...).
  // Secrets never appear in `message`.
  std::function<void(bool fatal, const std::string& message)> on_error;
};

class KafkaConsumer {
 public:
  virtual ~KafkaConsumer() = default;

  // Creates the consumer and subscribes to the config's topics. `properties` from the config are
  // applied after chipwatch's defaults, so operators can set security.protocol, sasl.*, ssl.*.
  static Result<std::unique_ptr<KafkaConsumer>> Create(const KafkaSourceConfig& config,
                                                       ConsumerCallbacks callbacks);

  // Waits up to `timeout` for the next message; nullptr on time-out or after Wake(). Transport
  // errors are reported through on_error and never returned as messages.
  virtual std::unique_ptr<KafkaMessage> Poll(std::chrono::milliseconds timeout) = 0;
  // Stops/resumes fetching for every currently assigned partition (the group membership stays
  // alive because Poll() keeps being called).
  virtual void PauseAll() = 0;
  virtual void ResumeAll() = 0;
  // Marks `next_offset` (last processed offset + 1) as the position to commit for a partition.
  virtual Status StoreOffset(const TopicPartition& tp, int64_t next_offset) = 0;
  // Commits the stored offsets synchronously.
  virtual Status CommitSync() = 0;
  // Starts a commit of the stored offsets and returns at once (the result is not reported; a
  // failed commit is retried by the next one, automatic or explicit). Default for fakes:
  // CommitSync.
  virtual Status CommitAsync() { return CommitSync(); }
  // The format configured for a topic.
  virtual Format FormatOf(std::string_view topic) const = 0;
  // Consumer lag per assigned partition (high watermark - position), for metrics; -1 unknown.
  virtual std::vector<std::pair<TopicPartition, int64_t>> Lag() = 0;
  // Partitions currently assigned to this member (empty before the first assignment and after
  // Close()). Default for fakes: none.
  virtual std::vector<TopicPartition> Assignment() { return {}; }
  // Leaves the group cleanly (runs the final revoke through the callbacks). Afterwards Poll()
  // returns nullptr and the other methods fail or do nothing. Destroying an open consumer closes
  // it without calling the callbacks.
  virtual Status Close() = 0;
  // Makes a blocked Poll() return early. Thread-safe.
  virtual void Wake() = 0;
};

}  // namespace chipwatch
