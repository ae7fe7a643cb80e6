#include "pipeline/supervisor.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <thread>

#include "pipeline/reload.h"

namespace chipwatch {
namespace {

// Without Kafka sources, the daemon ends when every (non-following) file is read.
bool AllFinished(const RunState& state) {
  for (const auto& source : state.sources) {
    if (!source->finished()) return false;
  }
  return true;
}

}  // namespace

bool IsReady(const RunState& state) {
  for (const auto& source : state.sources) {
    if (!source->ready()) return false;
  }
  return state.snapshots.Current() != nullptr;
}

bool IsHealthy(const RunState& state) {
  const Clock::time_point now = state.clock.Now();
  for (const auto& source : state.sources) {
    if (!source->healthy(now)) return false;
  }
  return true;
}

void LogStatus(const RunState& state) {
  size_t in_flight = 0;
  for (const auto& source : state.sources) in_flight += source->in_flight();
  const Counters& c = state.counters;
  spdlog::info(
      "status: {} messages, {} events, {} alerts, {} undecodable, {} dead-lettered, {} "
      "sink errors, {} in flight",
      c.messages.load(), c.events.load(), c.alerts.load(), c.decode_failures.load(),
      c.dead_letters.load(), c.sink_errors.load(), in_flight);
}

void Supervise(RunState& state) {
  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  const Clock& clock = state.clock;
  auto last_status = clock.Now();
  auto last_watchdog = clock.Now();
  while (!state.control.stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (state.control.reload.exchange(false)) Reload(state);
    state.metrics->Ready().Set(IsReady(state) ? 1 : 0);
    for (auto& sink : state.sinks) {
      state.metrics->SinkPending(sink->name()).Set(static_cast<double>(sink->pending()));
    }
    if (watchdog && clock.Now() - last_watchdog >= std::chrono::microseconds(watchdog_usec / 2)) {
      if (IsHealthy(state)) sd_notify(0, "WATCHDOG=1");
      last_watchdog = clock.Now();
    }
    if (clock.Now() - last_status >= std::chrono::seconds(60)) {
      LogStatus(state);
      last_status = clock.Now();
    }
    if (AllFinished(state)) break;
  }
  state.control.stop.store(true);
}

}  // namespace chipwatch
