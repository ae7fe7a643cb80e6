// Start-up: the ordered steps that build a RunState from a loaded config, each returning kExitOk or
// the exit status to stop with (2 for a configuration a client library refuses, 1 for anything
// the machine or the network refused). What a failed step leaves behind is torn down with the
// RunState; no thread runs before StartThreads.
//   LoadFirstSnapshot -> CreateSinks -> InitMetrics -> CreateSources -> StartMetricsServer
//   -> StartThreads
// Thread contract: the main thread, before any pipeline thread runs (StartThreads starts them).
#pragma once

#include "core/status.h"
#include "pipeline/kafka_input.h"
#include "pipeline/run_state.h"

namespace chipwatch {

// The exit status for a sink, source or endpoint that cannot be created.
int StartupFailure(const Status& status);

// Loads the rules and enrichment data the config names and publishes them (generation 1).
// kExitUsage when they cannot be used.
int LoadFirstSnapshot(RunState& state);
// Every alert sink and the dead letter, and the Delivery that hands records to them.
int CreateSinks(RunState& state);
// Series that alerting rules watch exist from the start (at 0), so that their first increase is
// visible to increase() and rate().
void InitMetrics(RunState& state);
// Every configured source, Kafka sources first; consumers come from `consumers`.
int CreateSources(RunState& state, const ConsumerFactory& consumers);
// /metrics, /healthz, /readyz, when enabled.
int StartMetricsServer(RunState& state);
// The workers, then every source's thread; then tells systemd the daemon is ready.
void StartThreads(RunState& state);

}  // namespace chipwatch
