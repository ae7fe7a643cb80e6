// The worker stage: one consumed input (a Kafka message, a file line) in, its alerts and dead
// letter handed to delivery, and the counting both kinds of source share (messages, events,
// alerts, processing time, repairs).
//
//   Kafka poll thread --WorkItem--> WorkQueue --> RunWorker threads --> Worker::Handle
//   file thread ------------------------------------------------------> Worker::Handle
//
// A Worker owns its processor (decoder, arena, Hyperscan scratch), rebuilt when a reload published
// a new snapshot, which it checks once per input: a reload lands between two messages. Kafka
// messages come with the snapshot their poll thread took them under.
//
// When the policy has stateful rules (suppression, correlations), the source numbers each input
// of a stream and the worker hands its output and completion to the stream's StatefulLane
// (pipeline/stateful_lane.h), which delivers in input order; otherwise the worker delivers itself.
// Thread contract: a Worker belongs to one thread. StageContext's members and RepairLog are
// thread-safe and outlive every worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "core/bounded_queue.h"
#include "engine/processor.h"
#include "pipeline/clock.h"
#include "pipeline/counters.h"
#include "pipeline/delivery.h"
#include "pipeline/offset_tracker.h"
#include "pipeline/snapshot.h"
#include "source/kafka_consumer.h"

namespace chipwatch {

class Counter;
class EvictionLog;
class Metrics;
class StatefulLane;

// What a numbered mark asks of a stateful lane (pipeline/stateful_lane.h).
enum class LaneMark : uint8_t {
  kFlush,   // the stream was idle: close the suppression windows, send their summaries
  kFinish,  // the stream ends here (revoke): flush, then close the lane
};

// Records evaluated after a repair (lenient decoding): counted, and logged once per file or
// partition and kind of repair.
class RepairLog {
 public:
  void Report(Metrics& metrics, const ProcessorOutput& out);

 private:
  std::mutex mu_;
  std::set<std::pair<std::string, DecodeWarning>> logged_;  // mu_
};

// What every stage shares; owned by the daemon (RunState), or by a test.
struct StageContext {
  Metrics* metrics = nullptr;
  Counters* counters = nullptr;
  Delivery* delivery = nullptr;
  RepairLog* repairs = nullptr;
  const SnapshotStore* snapshots = nullptr;
  RunControl* control = nullptr;
  const Clock* clock = &SteadyClock();
  // The stateful lanes' (pipeline/stateful_lane.h): state.idle_flush, and the log of first
  // evictions (may be null: every eviction's first in a lane is logged).
  std::chrono::milliseconds idle_flush{30000};
  EvictionLog* evictions = nullptr;
};

// One input for Worker::Handle. Views stay valid for the call.
struct WorkerInput {
  std::string_view text;
  size_t capacity = 0;  // readable bytes from text.data() (padding for the decoder)
  Format format = Format::kAuto;
  Origin origin;
  bool several_lines = false;      // framed line by line (ProcessLines): a batched Kafka message
  std::string_view framing_error;  // not empty: the input could not be framed (too large)
  std::string_view key;            // the dead letter's key
  const KafkaMessage* message = nullptr;  // its headers go first on a dead letter
  std::shared_ptr<Completion> completion;
  Counter* messages = nullptr;
  Counter* events = nullptr;  // null: not counted per format
  // The snapshot to evaluate with, pinned by the source (null: the one in force).
  std::shared_ptr<const Snapshot> snapshot;
  // Not null: the output goes through this stateful lane as its input number `seq`, with
  // `snapshot`, instead of straight to delivery.
  std::shared_ptr<StatefulLane> lane;
  uint64_t seq = 0;
};

// A Kafka message handed from a poll thread to the workers, with what it is counted and
// acknowledged against (all resolved by the poll thread).
struct WorkItem {
  std::unique_ptr<KafkaMessage> message;
  Format format = Format::kAuto;
  OffsetTracker* tracker = nullptr;
  OffsetTracker::Ticket ticket;
  Counter* messages = nullptr;
  Counter* events = nullptr;
  // The snapshot the poll thread took the message under: the worker evaluates with it, so that
  // the messages of a partition change policy in offset order (the stateful lane relies on it).
  std::shared_ptr<const Snapshot> snapshot;
  std::shared_ptr<StatefulLane> lane;  // see WorkerInput
  uint64_t seq = 0;
  // Without a message: a mark for `lane` (its number `seq`): flush it (idle), or finish it
  // (revoked).
  LaneMark mark = LaneMark::kFlush;
};
using WorkQueue = BoundedQueue<WorkItem>;

class Worker {
 public:
  Worker(const StageContext& context, DecoderOptions options);

  // Decodes, enriches and evaluates one input, counts it, delivers its alerts and dead letter, and
  // releases the input's guard on its completion.
  void Handle(WorkerInput& input);
  // The same for a Kafka message; a lane's mark goes to its lane.
  void Handle(WorkItem& item);

 private:
  void Count(const WorkerInput& input);
  void DeadLetter(const WorkerInput& input);

  StageContext context_;
  DecoderOptions options_;
  SnapshotProcessor processor_;
  ProcessorOutput out_;
  std::string topic_;
  std::string padded_;  // a message of several lines, padded for the framer
};

// A worker thread's body: handles work items until the queue is closed and drained.
void RunWorker(const StageContext& context, WorkQueue& queue, DecoderOptions options);

}  // namespace chipwatch
