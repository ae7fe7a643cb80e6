// Sink: where alerts (and dead-letter records) are delivered, with acknowledgements.
//
// The daemon's at-least-once guarantee rests on this contract: a sink calls a record's `done`
// callback exactly once, and only after the record is durably accepted (Kafka: a successful
// delivery report from an idempotent producer; file: written and flushed, fsync'ed if configured;
// stdout: written and flushed). A sink never drops a record: while its destination is slow or down
// it retries, and Deliver() blocks once its bounded internal queue is full, which is how
// backpressure reaches the consumer. Implementations are thread-safe: Deliver() may be called from
// several worker threads; `done` may run on a sink-owned thread and must be cheap.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace chipwatch {

struct SinkHeader {
  std::string name;
  std::string value;
};

// One record to deliver. For alerts: key = event id, value = the alert JSON line (no newline);
// for dead letters: key = empty, value = the original bytes, headers = reason and source.
struct SinkRecord {
  std::string key;
  std::string value;
  std::vector<SinkHeader> headers;
};

// Called exactly once per record: OK when it is acknowledged; otherwise the record was not
// delivered and never will be by this sink. Two kinds of failure:
// - Status::kCancelled: the sink was closed (shutdown) before the record was acknowledged.
// - any other code: the destination refused the record for good (a Kafka topic whose
//   max.message.bytes is smaller than the record, a topic the producer may not write, a closed
//   stdout). Retrying it would fail again.
// Either way the daemon never commits the source position of the record's message. A refused
// alert goes to the `dead_letter` destination if one is configured (headers chipwatch.reason:
// sink_rejected, chipwatch.sink, chipwatch.error and the source position), and the message may
// be committed once the dead letter is acknowledged; without one, or when the dead letter refuses
// it too, the daemon stops consuming, logs the sink, the error and the source position, and exits
// with status 1 (docs/operations.md).
using SinkCallback = std::function<void(const Status& status)>;

class Sink {
 public:
  virtual ~Sink() = default;
  // "kafka:chipwatch-alerts", "file:/var/log/chipwatch/alerts.jsonl", "stdout": for logs/metrics.
  virtual const std::string& name() const = 0;
  // Takes a record for delivery. Blocks while the sink's queue is full; returns a non-OK status
  // (kCancelled) only when the sink is closed, and then `done` is not called.
  virtual Status Deliver(SinkRecord record, SinkCallback done) = 0;
  // Waits up to `timeout` until every record handed in so far is acknowledged; false on time-out.
  virtual bool Flush(std::chrono::milliseconds timeout) = 0;
  // Records handed in and not yet acknowledged.
  virtual size_t pending() const = 0;
};

}  // namespace chipwatch
