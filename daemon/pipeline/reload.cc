#include "pipeline/reload.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <string>

#include "pipeline/startup.h"

namespace chipwatch {

void Reload(RunState& state) {
  sd_notify(0, "RELOADING=1");
  spdlog::info("SIGHUP: reloading {}", state.config_path);
  for (FileSink* sink : state.file_sinks) sink->Reopen();
  Diagnostics diags;
  std::unique_ptr<Config> config = LoadConfig(state.config_path, diags);
  for (const Diagnostic& d : diags.items()) {
    if (d.level == Diagnostic::Level::kError) spdlog::error("{}", d.ToString());
  }
  std::shared_ptr<const Snapshot> snapshot;
  if (config != nullptr) {
    snapshot =
        LoadSnapshot(*config, state.snapshots.Current()->generation + 1, state.metrics.get());
  }
  if (snapshot == nullptr) {
    state.metrics->RulesReload(false).Inc();
    spdlog::error("reload failed; the previous configuration and rules stay in force");
    sd_notify(0, "READY=1\nSTATUS=reload failed; running the previous policy");
    return;
  }
  if (config->Redacted() != state.config->Redacted()) {
    spdlog::info(
        "reload applies rules, enrichment data and the log level; changes to sources, "
        "sinks, workers and metrics take effect at the next restart");
  }
  const LogLevel level = state.log_level.value_or(config->log.level);
  spdlog::set_level(spdlog::level::from_str(std::string(LogLevelName(level))));
  state.metrics->RulesLoaded().Set(static_cast<double>(snapshot->policy->rules->rules().size()));
  const size_t rules = snapshot->policy->rules->rules().size();
  const std::string stateful = DescribeStateful(*snapshot->policy);
  state.snapshots.Publish(std::move(snapshot));
  state.metrics->RulesReload(true).Inc();
  // Each stateful lane takes the new policy up at its partition's next message (logged there).
  spdlog::info("reload done: {} rules ({}) in force, log level {}{}", rules, stateful,
               spdlog::level::to_string_view(spdlog::get_level()),
               state.log_level ? " (--log-level)" : "");
  sd_notify(0, "READY=1\nSTATUS=running");
}

}  // namespace chipwatch
