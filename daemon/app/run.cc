// `chipwatch run`: the always-on daemon. Start-up is an ordered list of small steps
// (pipeline/startup.h); every step's resources are owned by RunState and torn down in reverse
// order. The pipeline itself lives in daemon/pipeline/:
//
//   Kafka poll thread (kafka_input.h) --WorkItem--> work queue --> workers (worker.h: decode,
//     enrich, evaluate) --> every sink and the dead letter (delivery.h) --> acknowledgements
//     --> Completion --> OffsetTracker::Done --> the poll thread stores committable offsets
//   file thread (file_input.h) --> worker stage --> delivery --> checkpoint
//
// A message's offset becomes committable only when every alert it raised (and its dead-letter
// copy) is acknowledged by every sink, and every message before it too. Backpressure pauses
// consumption, never drops. Reload (SIGHUP, reload.h) swaps in a new policy between two messages;
// SIGTERM/SIGINT drain, deliver, commit and exit 0 (shutdown.h); a failure exits 1, a
// configuration error 2.
#include <spdlog/spdlog.h>

#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "app/logging.h"
#include "config/config.h"
#include "core/version.h"
#include "pipeline/run_state.h"
#include "pipeline/shutdown.h"
#include "pipeline/signals.h"
#include "pipeline/startup.h"
#include "pipeline/supervisor.h"

namespace chipwatch {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// Reads the config (problems on stderr: logging is not set up yet) and sets up logging.
int LoadConfigAndLogging(RunState& state, const RunOptions& options) {
  state.config_path = options.config;
  Diagnostics diags;
  state.config = LoadConfig(options.config, diags);
  for (const Diagnostic& d : diags.items()) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (state.config == nullptr) {
    std::fprintf(stderr, "chipwatch run: %s has %zu error(s)\n", options.config.c_str(),
                 diags.error_count());
    return kExitUsage;
  }
  state.log_level = options.log_level;
  if (options.log_level) state.config->log.level = *options.log_level;
  SetupLogging(state.config->log);
  spdlog::info("chipwatch {} starting with {}", CHIPWATCH_VERSION, options.config);
  for (const std::string& line : Lines(state.config->Redacted())) spdlog::debug("config: {}", line);
  state.metrics = std::make_unique<Metrics>(CHIPWATCH_VERSION);
  state.decoder_options.max_record_bytes = state.config->limits.max_record_bytes;
  return kExitOk;
}

}  // namespace

int RunDaemon(const RunOptions& options) {
  // Signals are blocked before any other thread starts: the rule compiler's, librdkafka's and the
  // workers' threads all inherit the mask, so a stop signal during start-up (systemctl stop while
  // a large pack compiles) is handled by the signal thread, not by the default action.
  RunControl& control = ProcessRunControl();
  StartSignalThread(control).detach();
  RunState state(control, SteadyClock());
  if (int code = LoadConfigAndLogging(state, options); code != kExitOk) return code;
  if (int code = LoadFirstSnapshot(state); code != kExitOk) return code;
  if (control.stop.load()) {
    // Nothing was consumed yet, so there is nothing to finish or commit.
    LogStopSignal(control);
    spdlog::info("stopped during start-up");
    return kExitOk;
  }
  if (int code = CreateSinks(state); code != kExitOk) return code;
  InitMetrics(state);
  if (int code = CreateSources(state, RealConsumerFactory()); code != kExitOk) return code;
  if (int code = StartMetricsServer(state); code != kExitOk) return code;
  StartThreads(state);
  Supervise(state);
  LogStopSignal(control);
  return Shutdown(state, state.config->shutdown_timeout);
}

}  // namespace chipwatch
