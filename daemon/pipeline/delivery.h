// Delivery: hands a message's alerts and dead letter to the sinks, and counts the
// acknowledgements the message waits for before its position may be committed.
//
// Every consumed input (a Kafka message, a file line) gets one Completion. The worker holds a guard
// on it while it processes the input; DeliverAlerts/DeadLetter add one per record handed to a sink,
// and each acknowledgement releases one. The last release tells the input's OffsetTracker that the
// input is done, or failed when one of its records could be delivered nowhere; the OffsetTracker
// alone decides what may be committed (a failed input is never committed past).
//
// An alert a sink refuses for good goes to the dead-letter sink when there is one (its
// acknowledgement then stands for the refused one); without one, or when the dead letter refuses it
// too, the daemon stops with exit status 1 (RunControl::StopFailed) naming the sink, the error and
// the source position. A sink closed during shutdown (kCancelled) only marks the input failed: it
// is consumed again after the restart.
//
// Thread contract: DeliverAlerts and DeadLetter from any worker thread; acknowledgements arrive on
// sink threads. The sinks, metrics, counters and control outlive every record handed in.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/processor.h"
#include "pipeline/clock.h"
#include "pipeline/counters.h"
#include "pipeline/offset_tracker.h"
#include "pipeline/run_control.h"
#include "sink/sink.h"

namespace chipwatch {

class Metrics;

// Where a consumed message (Kafka) or line (file) came from: named in the headers of its dead
// letters and in the error that stops the daemon.
struct SourcePosition {
  std::string name;        // topic or file path
  int32_t partition = -1;  // -1: a file
  int64_t position = 0;    // offset, or line number

  std::string ToString() const;
  void AppendHeaders(std::vector<SinkHeader>& headers) const;
};

// Counts down the acknowledgements one consumed message waits for; the last one marks it done, or
// failed when one of its records could be delivered nowhere (never committed past).
struct Completion {
  std::atomic<int> remaining{1};  // starts with a guard held by the worker
  std::atomic<bool> failed{false};
  OffsetTracker* tracker = nullptr;  // null: nothing to tell (a file source without checkpoint)
  OffsetTracker::Ticket ticket;
  SourcePosition source;

  void Release();
};

class Delivery {
 public:
  // `sinks` receive every alert; `dead_letter` (may be null) undecodable inputs and refused alerts.
  Delivery(std::vector<Sink*> sinks, Sink* dead_letter, Metrics& metrics, Counters& counters,
           RunControl& control, const Clock& clock);

  // Every alert of `out` to every sink.
  void DeliverAlerts(const ProcessorOutput& out, const std::shared_ptr<Completion>& completion);
  // One dead-letter record per undecodable input (message or line): the original bytes, with the
  // reason and the source position in headers (`headers` may carry the message's own first).
  // Also counts and logs every failure of `out`; nothing to do when it has none.
  void DeadLetter(const ProcessorOutput& out, std::string_view original_key,
                  std::string_view original, std::vector<SinkHeader> headers,
                  const std::shared_ptr<Completion>& completion);

 private:
  void DeliverTo(Sink& sink, SinkRecord record, const std::shared_ptr<Completion>& completion);
  void OnNotDelivered(const Sink& sink, const Status& error, SinkRecord* refused,
                      const std::shared_ptr<Completion>& completion);
  void LogDecodeFailures(const ProcessorOutput& out);

  const std::vector<Sink*> sinks_;
  Sink* const dead_letter_;
  Metrics& metrics_;
  Counters& counters_;
  RunControl& control_;
  const Clock& clock_;
};

}  // namespace chipwatch
