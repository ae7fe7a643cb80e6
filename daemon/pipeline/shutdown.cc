#include "pipeline/shutdown.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>

#include "core/exit_codes.h"
#include "pipeline/supervisor.h"

namespace chipwatch {
namespace {

using std::chrono::milliseconds;

// Stops every source's thread, then lets the workers finish what was already consumed.
void StopConsuming(RunState& state) {
  for (auto& source : state.sources) source->Wake();
  for (auto& source : state.sources) source->Join();
  state.work.Close();  // workers drain what was already consumed, then stop
  for (auto& w : state.workers) w.join();
  state.workers.clear();
  // The stateful lanes' last summaries (the state lives in memory only), before the sinks flush.
  for (auto& source : state.sources) source->FlushState();
}

// Waits for every acknowledgement and flushes every sink, within the deadline. False when
// something was left.
bool DrainAndFlush(RunState& state, Clock::time_point deadline) {
  auto left = [&] {
    return std::max(milliseconds(0),
                    std::chrono::duration_cast<milliseconds>(deadline - state.clock.Now()));
  };
  bool clean = true;
  for (auto& source : state.sources) {
    if (!source->WaitAcknowledged(left())) clean = false;
  }
  for (auto& sink : state.sinks) {
    if (!sink->Flush(left())) {
      spdlog::warn("sink {}: {} records not flushed before the shutdown timeout", sink->name(),
                   sink->pending());
      clean = false;
    }
  }
  if (state.dead_letter && !state.dead_letter->Flush(left())) clean = false;
  return clean;
}

}  // namespace

int Shutdown(RunState& state, std::chrono::seconds timeout) {
  sd_notify(0, "STOPPING=1");
  state.metrics->Ready().Set(0);
  const auto deadline = state.clock.Now() + timeout;
  StopConsuming(state);
  const bool clean = DrainAndFlush(state, deadline);
  for (auto& source : state.sources) source->SavePosition();
  for (auto& source : state.sources) source->CommitAndClose();
  state.metrics_server.reset();
  LogStatus(state);
  if (state.control.failed.load()) {
    spdlog::critical("stopped on a failure (see the errors above): exit status {}", kExitFailure);
    return kExitFailure;
  }
  spdlog::info("stopped{}", clean ? "" : " (shutdown timeout reached; see warnings above)");
  return kExitOk;
}

}  // namespace chipwatch
