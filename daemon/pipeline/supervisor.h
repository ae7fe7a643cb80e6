// Supervisor: the main thread's loop while the daemon runs, and the health questions it answers.
//
// Every 100 ms: applies a pending reload (SIGHUP), publishes readiness and the sinks' pending
// counts, pets the systemd watchdog while every source is healthy, logs a status line every minute,
// and returns when the stop flag is set, or, without Kafka sources, when every file source is
// finished (a non-following file read to its end).
// Thread contract: Supervise on the main thread; IsReady/IsHealthy/LogStatus from any thread (the
// metrics endpoint asks IsReady).
#pragma once

#include "pipeline/run_state.h"

namespace chipwatch {

// Ready: rules loaded and every source connected (a Kafka source has joined its group and been
// assigned its share, possibly none; a file source is open).
bool IsReady(const RunState& state);
// Healthy for the systemd watchdog: every poll thread has polled recently.
bool IsHealthy(const RunState& state);
// The periodic status line.
void LogStatus(const RunState& state);
// Runs until the daemon should stop (see above); sets the stop flag before it returns.
void Supervise(RunState& state);

}  // namespace chipwatch
