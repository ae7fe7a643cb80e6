// Source: one configured input of the daemon (a Kafka consumer group member, a followed file),
// driven by a thread of its own.
//
// A source reads inputs, registers each with its OffsetTracker (directly, or through a file
// checkpoint) before handing it on, and stores its position (Kafka offsets, a checkpoint file) only
// as far as the tracker says every input before it is acknowledged. Kafka sources hand messages to
// the worker threads through the WorkQueue and pause under backpressure; a file source runs the
// worker stage on its own thread. The supervisor asks every source the same questions (ready?
// healthy? finished?) and shutdown drives every source through the same steps:
//   Wake() all -> Join() all -> [workers drain] -> FlushState() -> WaitAcknowledged()
//   -> [sinks flush]
//   -> SavePosition() -> CommitAndClose()
// Thread contract: Start, Join and the shutdown steps from the main thread; Wake and the queries
// (ready, healthy, finished, in_flight) from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "pipeline/clock.h"

namespace chipwatch {

class Source {
 public:
  virtual ~Source() = default;

  // "kafka[0]", "file[1]": the `source` label of metrics and the prefix of log lines.
  virtual const std::string& label() const = 0;

  // Starts the source's thread.
  virtual void Start() = 0;
  // Makes a blocked poll return early (the stop flag is already set). Thread-safe.
  virtual void Wake() = 0;
  // Waits for the source's thread to end.
  virtual void Join() = 0;

  // Connected: a Kafka source has joined its group (and been assigned its share, possibly none).
  virtual bool ready() const { return true; }
  // Alive for the systemd watchdog: a poll thread that polled within the last 20 s.
  virtual bool healthy(Clock::time_point /*now*/) const { return true; }
  // Will never produce another input (a file read to its end that is not followed).
  virtual bool finished() const { return false; }
  // Kafka messages consumed and not yet acknowledged, for the status line.
  virtual size_t in_flight() const { return 0; }

  // Shutdown, once the workers are drained: the stateful lanes' suppression windows are closed
  // and their summaries delivered (the state lives in memory only: it ends with the process).
  virtual void FlushState() {}
  // Shutdown, once the workers are drained: waits up to `timeout` until everything consumed is
  // acknowledged. False (and a warning) on time-out.
  virtual bool WaitAcknowledged(std::chrono::milliseconds /*timeout*/) { return true; }
  // Shutdown, once the sinks are flushed: writes a local position (a file checkpoint). Runs for
  // every source before any CommitAndClose, so that a slow broker cannot delay it.
  virtual void SavePosition() {}
  // Shutdown, last: stores and commits what is acknowledged and leaves the group.
  virtual void CommitAndClose() {}
};

}  // namespace chipwatch
