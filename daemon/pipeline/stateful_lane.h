// StatefulLane: the daemon's stateful stage (engine/stateful.h) for one stream, a Kafka partition
// or a file source, between the workers and Delivery (docs/stateful.md, "Where the stage goes").
//
//   poll/file thread  LaneRoute::Route numbers the stream's inputs (0, 1, 2, ...) while the
//                     snapshot they are evaluated with (pinned in the WorkItem) has stateful rules
//   workers           decode and evaluate in parallel as always, dead-letter what is
//                     undecodable, then StatefulLane::Submit(seq, output, completion)
//   the lane          restores input order (a small reorder map): whichever worker submits the
//                     next expected number runs the stage on it and on every consecutive one
//                     waiting: StatefulStage::Process, Advance, Delivery::DeliverAlerts with that
//                     input's Completion (so correlation and summary alerts hold its offset like
//                     any alert), then releases the worker's guard. Deliveries of one stream are
//                     in input order.
//   idle              the poll (or file) thread's loop asks LaneRoute::TakeIdleFlush whether the
//                     stream has had no input for `idle_flush`; if so it numbers a flush mark,
//                     which a worker (the file thread) hands to the lane like an input: the lane
//                     flushes its suppression windows in order, and the summaries go out with a
//                     Completion without tracker (nothing to commit; a refusal still stops the
//                     daemon). The poll thread itself never delivers: a full sink cannot stall it.
//   reload            an input evaluated with another policy rebuilds the stage first
//                     (StatefulStage::Rebuild: unchanged definitions keep their state; logged).
//   the end           revoke: a finish mark (LaneRoute::TakeFinish), numbered after the
//                     partition's last message: the windows flushed, then the lane closes.
//                     Shutdown (no workers left): Finish(flush) at once; a lost partition:
//                     Finish without flush. Inputs still waiting are released as failed (never
//                     committed past).
//
// The state lives in memory only (persistence to state.path is not built yet).
// Thread contract: Submit and Mark from any worker thread (or the file thread); Finish and
// processed() from the stream's poll (or file) thread, or the main thread at shutdown. The stage
// runs on one thread at a time (whichever holds the lane's `busy_` turn). LaneRoute belongs to the
// poll (or file) thread. EvictionLog is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/processor.h"
#include "engine/stateful.h"
#include "pipeline/clock.h"
#include "pipeline/delivery.h"
#include "pipeline/snapshot.h"
#include "pipeline/worker.h"

namespace chipwatch {

class Counter;
class Gauge;

// The first eviction of each correlation or suppressed rule is logged once, over every lane.
class EvictionLog {
 public:
  // True the first time `rule_id` is reported.
  bool First(std::string_view rule_id);

 private:
  std::mutex mu_;
  std::set<std::string, std::less<>> logged_;  // mu_
};

class StatefulLane {
 public:
  // `name`: "topic[partition]" or the file's path, for the log.
  StatefulLane(std::string name, const StageContext& context);
  ~StatefulLane();
  StatefulLane(const StatefulLane&) = delete;
  StatefulLane& operator=(const StatefulLane&) = delete;

  // Hands over input `seq`'s worker output (swapped with a cleared buffer the lane recycles), the
  // snapshot it was evaluated with, and its completion, whose guard the lane now holds. Runs the
  // stage on every input now in order, unless another thread is at it.
  void Submit(uint64_t seq, std::shared_ptr<const Snapshot> snapshot, ProcessorOutput& out,
              std::shared_ptr<Completion> completion);
  // Hands over mark `seq` (numbered like an input): done in order, like an input.
  void Mark(uint64_t seq, LaneMark mark);
  // The end of the lane, at once (shutdown, a lost partition, a retired lane; `flush`: the
  // windows' summaries sent). Inputs waiting for an earlier one are released as failed, later
  // submissions too; the flush happens now, or on the thread running the stage when it is done.
  void Finish(bool flush);
  // The inputs taken by the stage so far: the next number expected.
  uint64_t processed() const;
  const std::string& name() const { return name_; }

 private:
  struct Pending {
    std::shared_ptr<const Snapshot> snapshot;  // null: a mark
    ProcessorOutput out;
    std::shared_ptr<Completion> completion;
    LaneMark mark = LaneMark::kFlush;
  };
  // What one correlation's or suppressed rule's metrics were last told.
  struct CorrelationMetrics {
    Gauge* groups;
    Counter *alerts, *suppressed, *late, *evictions;
    CorrelationStats last;
  };
  struct SuppressionMetrics {
    Counter *suppressed, *evictions;
    SuppressionStats last;
  };

  // Queues `p` as number `seq` and, unless another thread has the turn, runs what is in order.
  void Enqueue(uint64_t seq, Pending p);
  // With `busy_` set and the lock held: runs the stage on the inputs in order, finishes a closed
  // lane, and gives up the turn.
  void Drain(std::unique_lock<std::mutex>& lock);
  void Run(Pending& p);
  void RunMark(LaneMark mark);
  void UsePolicy(const std::shared_ptr<const Snapshot>& snapshot);
  void FlushWindows();
  // A closed lane's end: the waiting inputs released as failed, the flush if asked, the state
  // dropped.
  void Wrap(std::unique_lock<std::mutex>& lock);
  // staged_ to the sinks with `completion`; metrics updated; staged_ cleared.
  void Deliver(const std::shared_ptr<Completion>& completion);
  static void Abandon(Pending& p);
  void ResolveMetrics(const StatefulStage* old);
  void UpdateMetrics();
  void LogEviction(std::string_view id, const char* what, size_t max);

  const std::string name_;
  const StageContext context_;

  mutable std::mutex mu_;
  std::map<uint64_t, Pending> waiting_;  // mu_: submitted, not yet processed
  uint64_t next_ = 0;                    // mu_
  bool busy_ = false;                    // mu_: a thread runs the stage
  bool closed_ = false;                  // mu_
  bool flush_on_close_ = false;          // mu_
  bool wrapped_ = false;                 // mu_
  std::vector<ProcessorOutput> spare_;   // mu_: cleared buffers for Submit

  // The turn's holder only.
  std::unique_ptr<StatefulStage> stage_;
  std::unique_ptr<StatefulStage> retired_;  // after a rebuild, until its summaries are delivered
  ProcessorOutput staged_;
  SourcePosition last_;  // the last input's position: named by the flushes' completions
  std::vector<CorrelationMetrics> correlation_metrics_;
  std::vector<SuppressionMetrics> suppression_metrics_;
  std::vector<CorrelationStats> correlation_stats_;  // scratch
  std::vector<SuppressionStats> suppression_stats_;  // scratch
};

// The poll (or file) thread's side of one stream: whether an input goes through the lane, its
// number, and when the lane is idle.
class LaneRoute {
 public:
  LaneRoute(std::string name, const StageContext& context);
  ~LaneRoute();
  LaneRoute(LaneRoute&&) = default;

  // For an input about to be evaluated with `snapshot`: true when it goes through the lane
  // (created when needed), with `lane` and `seq` set. A lane whose policy lost its stateful rules
  // takes one more input (its stage rebuilt: windows summed up) and is dropped once that is
  // processed.
  bool Route(const Snapshot& snapshot, Clock::time_point now, std::shared_ptr<StatefulLane>& lane,
             uint64_t& seq);
  // True, with `lane` and `seq` set for a LaneMark::kFlush, once the stream has had no input for
  // the context's idle_flush since its last input (once per quiet period).
  bool TakeIdleFlush(Clock::time_point now, std::shared_ptr<StatefulLane>& lane, uint64_t& seq);
  // True, with `lane` and `seq` set for a LaneMark::kFinish, when there is a lane; the route
  // lets go of it.
  bool TakeFinish(std::shared_ptr<StatefulLane>& lane, uint64_t& seq);
  // Drops the lane at once (see StatefulLane::Finish).
  void Finish(bool flush);
  bool active() const { return lane_ != nullptr; }

 private:
  std::string name_;
  StageContext context_;
  std::shared_ptr<StatefulLane> lane_;
  uint64_t next_seq_ = 0;
  Clock::time_point last_input_;
  bool flushed_ = true;    // nothing new since the last idle flush
  bool retiring_ = false;  // routed an input of a policy without stateful rules
};

}  // namespace chipwatch
