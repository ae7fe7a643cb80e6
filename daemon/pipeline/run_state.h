// RunState: what `chipwatch run` builds at start-up and tears down at shutdown.
//
// Each start-up step (startup.h) fills in its part; shutdown (shutdown.h) stops the sources,
// drains the workers, flushes the sinks and commits; the members are then destroyed in reverse
// order of declaration (sources before the work queue and the sinks, delivery after the sinks
// whose callbacks it receives). It holds no behaviour of its own.
// Thread contract: built and torn down by the main thread; once the threads run, the members are
// only read (the pointers and vectors do not change) except through their own thread-safe APIs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "decode/decoder.h"
#include "metrics/metrics.h"
#include "pipeline/clock.h"
#include "pipeline/counters.h"
#include "pipeline/delivery.h"
#include "pipeline/run_control.h"
#include "pipeline/snapshot.h"
#include "pipeline/source.h"
#include "pipeline/stateful_lane.h"
#include "pipeline/worker.h"
#include "sink/file_sink.h"
#include "sink/sink.h"

namespace chipwatch {

// The hand-off to the workers. Kafka poll threads take a message from librdkafka only while
// fewer than work_queue_high wait (WaitForRoom), so Push() does not block them; file sources do
// not use it.
inline constexpr size_t kWorkQueueCapacity = 40000;

struct RunState {
  RunState(RunControl& run_control, const Clock& run_clock)
      : control(run_control), clock(run_clock) {}

  // What every stage shares (valid once the metrics and the delivery exist).
  StageContext context() {
    StageContext c;
    c.metrics = metrics.get();
    c.counters = &counters;
    c.delivery = delivery.get();
    c.repairs = &repairs;
    c.snapshots = &snapshots;
    c.control = &control;
    c.clock = &clock;
    if (config != nullptr) c.idle_flush = config->state.idle_flush;
    c.evictions = &evictions;
    return c;
  }

  RunControl& control;
  const Clock& clock;
  std::unique_ptr<Config> config;
  std::string config_path;
  std::optional<LogLevel> log_level;  // --log-level: overrides the config's, reloads included
  DecoderOptions decoder_options;
  SnapshotStore snapshots;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<MetricsServer> metrics_server;
  Counters counters;
  RepairLog repairs;
  EvictionLog evictions;
  std::unique_ptr<Delivery> delivery;  // refers to the sinks: declared before them
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<FileSink*> file_sinks;  // also owned by `sinks`/`dead_letter`: reopened on SIGHUP
  std::unique_ptr<Sink> dead_letter;
  WorkQueue work{kWorkQueueCapacity};
  std::vector<std::unique_ptr<Source>> sources;  // Kafka sources, then file sources
  std::vector<std::thread> workers;
};

}  // namespace chipwatch
