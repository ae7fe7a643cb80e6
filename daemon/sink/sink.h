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

// Called once per record when it is acknowledged (ok) or could never be delivered (a permanent
// error, e.g. a message too large for the topic: the daemon then logs it, counts it and stops).
using SinkCallback = std::function<void(const Status& status)>;

class Sink {
 public:
  virtual ~Sink() = default;
  // "kafka:chipwatch-alerts", "file:/var/log/chipwatch/alerts.jsonl", "stdout": for logs/metrics.
  virtual const std::string& name() const = 0;
  // Takes a record for delivery. Blocks while the sink's queue is full; returns a non-OK status
  // only when the sink is closed.
  virtual Status Deliver(SinkRecord record, SinkCallback done) = 0;
  // Waits up to `timeout` until every record handed in so far is acknowledged; false on time-out.
  virtual bool Flush(std::chrono::milliseconds timeout) = 0;
  // Records handed in and not yet acknowledged.
  virtual size_t pending() const = 0;
};

}  // namespace chipwatch
