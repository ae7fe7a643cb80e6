// OffsetTracker: which consumed Kafka offsets are fully processed, and so safe to commit.
//
// The consumer registers every message it hands to a worker (Begin) and the last acknowledgement of
// that message's alerts marks it done (Done). For each partition the committable position is one
// past the highest offset below which every registered message is done: a slow message holds back
// the commit of every later one, so a crash never skips an unacknowledged alert (at-least-once).
// Each assignment of a partition is a generation: acknowledgements that arrive for a partition
// after it was revoked are ignored. A message marked failed holds its partition's commit position
// before it for as long as the partition stays assigned. Thread-safe:
// Begin/Assign/Revoke/TakeCommittable from the polling thread, Done from any sink or worker thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "source/kafka_consumer.h"

namespace chipwatch {

class OffsetTracker {
 public:
  struct Partition;  // per-partition state, private to the implementation

  // Identifies one registered message for Done().
  struct Ticket {
    std::shared_ptr<Partition> partition;
    int64_t offset = -1;
  };

  OffsetTracker();
  ~OffsetTracker();

  // Starts tracking a partition (a new generation; earlier state is dropped).
  void Assign(const TopicPartition& tp);
  // Stops tracking: later Done() calls for it are ignored.
  void Revoke(const TopicPartition& tp);
  // Registers a consumed message. Offsets of one partition must be registered in increasing order.
  Ticket Begin(const TopicPartition& tp, int64_t offset);
  // The same without building a TopicPartition (no allocation once the partition is known).
  Ticket Begin(std::string_view topic, int32_t partition, int64_t offset);
  // Marks the message done. Idempotent; safe after Revoke.
  void Done(const Ticket& ticket);
  // Marks the message as failed for good (one of its records could be delivered nowhere): it is
  // no longer in flight, but the commit position never passes it, so it is consumed again after a
  // restart. Idempotent; safe after Revoke.
  void Fail(const Ticket& ticket);

  // Partitions whose committable position moved since the last call, with the position (the next
  // offset to consume). Only partitions among `only` when it is non-empty.
  std::vector<std::pair<TopicPartition, int64_t>> TakeCommittable(
      const std::vector<TopicPartition>& only = {});

  // Messages registered and not done, over all partitions / for some partitions.
  size_t in_flight() const;
  size_t in_flight(const std::vector<TopicPartition>& tps) const;
  // Blocks until none of `tps` (all partitions when empty) has a message in flight, or time-out.
  bool WaitIdle(const std::vector<TopicPartition>& tps, std::chrono::milliseconds timeout) const;

 private:
  // Orders (topic, partition) keys; transparent, so that lookups take a string_view.
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const int c = std::string_view(a.first).compare(std::string_view(b.first));
      return c < 0 || (c == 0 && a.second < b.second);
    }
  };
  using Key = std::pair<std::string, int32_t>;

  void Finish(const Ticket& ticket, bool failed);
  size_t InFlightLocked(const std::vector<TopicPartition>& tps) const;

  mutable std::mutex mu_;
  mutable std::condition_variable idle_;
  std::map<Key, std::shared_ptr<Partition>, KeyLess> partitions_;  // mu_
  size_t in_flight_ = 0;                                           // mu_
};

}  // namespace chipwatch
