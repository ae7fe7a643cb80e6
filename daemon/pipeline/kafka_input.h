// KafkaInput: a Kafka source. One poll thread per configured `type: kafka` source consumes from
// its consumer group and hands messages to the workers.
//
// Each message is registered with the source's OffsetTracker before it is handed on; offsets are
// stored (and committed by librdkafka, or at once when the consumer is idle) only as far as the
// tracker says every message before them is acknowledged (at least once).
// Flow control: the poll thread takes a message only while fewer than `work_queue_high` wait for
// the workers, so a CPU-bound backlog stays in librdkafka's prefetch buffer. Backpressure: when
// `pause_in_flight` messages wait for sink acknowledgements, or the workers have taken nothing for
// `workers_stalled` (blocked by full sinks), every partition is paused; polling goes on (group
// membership, rebalances) and consumption resumes once in-flight messages are down to
// `resume_in_flight` and the workers take messages again. Nothing is dropped.
// Rebalances: a revoked partition's in-flight messages get up to `revoke_wait` to be acknowledged,
// then its offsets are committed, so that the next owner starts right after them.
// Stateful rules (pipeline/stateful_lane.h): while the policy has some, each partition's messages
// are numbered and go through the partition's lane, created at its first such message; the poll
// loop sends a flush mark to a lane idle for state.idle_flush; a revoked partition's lane gets a
// finish mark (after the revoke wait: flushed by a worker, then closed), a lost one's is dropped,
// and an assigned partition starts a fresh one.
// Thread contract: PollOnce (and the consumer's callbacks, which run inside it) on the poll thread
// only; Wake and the Source queries from any thread; the shutdown steps after Join.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "pipeline/offset_tracker.h"
#include "pipeline/source.h"
#include "pipeline/stateful_lane.h"
#include "pipeline/worker.h"
#include "source/kafka_consumer.h"

namespace chipwatch {

class Counter;
class Gauge;

// Creates the consumer (KafkaConsumer::Create; a fake in tests).
using ConsumerFactory = std::function<Result<std::unique_ptr<KafkaConsumer>>(
    const KafkaSourceConfig&, ConsumerCallbacks)>;
ConsumerFactory RealConsumerFactory();

struct KafkaInputOptions {
  // Messages in flight (consumed, not yet acknowledged by every sink) above which the consumer
  // pauses fetching, and below which it resumes.
  size_t pause_in_flight = 20000;
  size_t resume_in_flight = 10000;
  // Messages handed to the workers and not yet taken by one, above which the poll thread stops
  // taking messages from librdkafka (the rest of a backlog waits in librdkafka's prefetch buffer,
  // which a pause would throw away and fetch again); it goes on below half of it.
  size_t work_queue_high = 4096;
  // Workers that take nothing for this long are blocked (by full sinks): the consumer pauses, so
  // that the poll thread can go on polling (group membership) without taking more messages.
  std::chrono::milliseconds workers_stalled{2000};
  std::chrono::milliseconds poll_timeout{100};
  // Poll timeout while messages are in flight or stored offsets are not committed yet, so that
  // the offsets of the last messages before a quiet period are stored and committed within
  // milliseconds of their last acknowledgement, not at the next automatic commit.
  std::chrono::milliseconds busy_poll_timeout{10};
  std::chrono::milliseconds store_interval{200};
  // At most this often an explicit commit when the consumer has caught up and everything consumed
  // is acknowledged (busy consumers rely on librdkafka's automatic commit,
  // auto.commit.interval.ms).
  std::chrono::milliseconds idle_commit_interval{100};
  std::chrono::milliseconds revoke_wait{10000};
  std::chrono::milliseconds lag_interval{2000};
  // A poll thread silent for longer is unhealthy (the systemd watchdog then kills the daemon).
  std::chrono::milliseconds healthy_within{20000};
};

class KafkaInput final : public Source {
 public:
  // Resolves the source's metrics and creates its consumer (subscribed, not yet polled).
  static Result<std::unique_ptr<KafkaInput>> Create(const KafkaSourceConfig& config,
                                                    std::string label, const StageContext& context,
                                                    WorkQueue& work, const ConsumerFactory& factory,
                                                    KafkaInputOptions options = {});

  // Source
  const std::string& label() const override { return label_; }
  void Start() override;
  void Wake() override;
  void Join() override;
  bool ready() const override { return assigned_.load(); }
  bool healthy(Clock::time_point now) const override;
  size_t in_flight() const override { return tracker_.in_flight(); }
  bool WaitAcknowledged(std::chrono::milliseconds timeout) override;
  void FlushState() override;
  void CommitAndClose() override;

  // One turn of the poll loop: take a message if the workers have room, pause or resume, store
  // offsets, report lag. False when the work queue is closed (shutting down). The poll thread
  // calls it until the stop flag is set; tests call it directly.
  bool PollOnce();
  bool paused() const { return paused_; }
  // Partitions with a stateful lane (poll thread, or tests between polls).
  size_t lanes() const { return routes_.size(); }
  OffsetTracker& tracker() { return tracker_; }
  KafkaConsumer& consumer() { return *consumer_; }

 private:
  KafkaInput(const KafkaSourceConfig& config, std::string label, const StageContext& context,
             WorkQueue& work, KafkaInputOptions options);

  void Run();
  // Takes one message from the consumer when the workers have room (or the consumer is paused).
  // Sets `got`; false when the work queue is closed.
  bool TakeMessage(bool& got);
  void ApplyBackpressure();
  void StoreOffsets(bool got);
  void ReportLag();
  // Pins the snapshot the message is evaluated with and, when it has stateful rules (or the
  // partition's lane is retiring), numbers the message for its partition's lane.
  void RouteMessage(WorkItem& item, const KafkaMessage& msg);
  void CheckIdleLanes();
  // Hands a lane's mark to the workers (or runs it here once they are gone).
  void SendMark(WorkItem item);
  // Lets go of the lanes of `tps`: with `flush`, a finish mark after their last message (their
  // windows' summaries sent by a worker); without, dropped at once.
  void FinishLanes(const std::vector<TopicPartition>& tps, bool flush);
  // Stores the offsets that became committable (for `only` partitions, or all). Returns how many
  // partitions moved.
  size_t StoreCommittable(const std::vector<TopicPartition>& only = {});

  // Consumer callbacks (on the poll thread, inside Poll or Close).
  void OnAssigned(const std::vector<TopicPartition>& tps);
  void OnRevoked(const std::vector<TopicPartition>& tps, bool lost);
  void OnError(bool fatal, const std::string& message);

  const KafkaSourceConfig& config_;
  const std::string label_;
  const StageContext context_;
  WorkQueue& work_;
  const KafkaInputOptions options_;
  std::unique_ptr<KafkaConsumer> consumer_;
  OffsetTracker tracker_;
  std::thread poller_;
  std::atomic<bool> assigned_{false};     // has joined its group (readiness)
  std::atomic<int64_t> last_poll_ms_{0};  // the poll thread is alive (watchdog)
  Counter* messages_ = nullptr;
  Gauge* in_flight_gauge_ = nullptr;
  Gauge* paused_gauge_ = nullptr;
  std::map<std::string, Counter*, std::less<>> events_by_topic_;  // built at start, read-only

  // The poll loop's state (poll thread only).
  bool paused_ = false;
  bool uncommitted_ = false;  // offsets stored since the last explicit commit
  Clock::time_point now_;
  Clock::time_point last_store_;
  Clock::time_point last_commit_;
  Clock::time_point last_lag_;
  Clock::time_point workers_busy_since_ = Clock::time_point::max();  // work queue full since
  size_t in_flight_ = 0;
  std::shared_ptr<const Snapshot> snapshot_;  // the one in force, as of `published_`
  uint64_t published_ = 0;
  // The stateful lanes' routes, of partitions that have a lane.
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const int c = std::string_view(a.first).compare(std::string_view(b.first));
      return c < 0 || (c == 0 && a.second < b.second);
    }
  };
  std::map<std::pair<std::string, int32_t>, LaneRoute, KeyLess> routes_;
};

}  // namespace chipwatch
