#include "pipeline/startup.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <variant>

#include "core/exit_codes.h"
#include "pipeline/file_input.h"
#include "pipeline/supervisor.h"
#include "sink/kafka_sink.h"
#include "sink/stdout_sink.h"

namespace chipwatch {
namespace {

using SinkErrorHandler = std::function<void(bool fatal, const std::string& message)>;

// Returns kExitOk, or the exit status to stop with.
int CreateAlertSinks(RunState& state, const SinkErrorHandler& on_error) {
  auto file_error = [](const std::string& message) { spdlog::error("{}", message); };
  for (const SinkConfig& sc : state.config->sinks) {
    if (auto* k = std::get_if<KafkaSinkConfig>(&sc)) {
      auto sink = CreateKafkaSink(*k, on_error);
      if (!sink.ok()) {
        spdlog::error("{}: kafka sink {}: {}", k->pos.ToString(), k->topic,
                      sink.status().message());
        return StartupFailure(sink.status());
      }
      state.sinks.push_back(std::move(sink.value()));
    } else if (auto* f = std::get_if<FileSinkConfig>(&sc)) {
      FileSinkOptions options;
      options.on_error = file_error;
      auto sink = OpenFileSink(*f, options);
      if (!sink.ok()) {
        spdlog::error("{}: file sink {}: {}", f->pos.ToString(), f->path.path,
                      sink.status().message());
        return StartupFailure(sink.status());
      }
      state.file_sinks.push_back(sink.value().get());
      state.sinks.push_back(std::move(sink.value()));
    } else {
      state.sinks.push_back(CreateStdoutSink(STDOUT_FILENO, file_error));
    }
  }
  return kExitOk;
}

int CreateDeadLetter(RunState& state, const SinkErrorHandler& on_error) {
  if (!state.config->dead_letter) return kExitOk;
  const DeadLetterConfig& dl = *state.config->dead_letter;
  Status status;
  if (auto* k = std::get_if<KafkaSinkConfig>(&dl)) {
    auto sink = CreateKafkaSink(*k, on_error);
    if (sink.ok()) state.dead_letter = std::move(sink.value());
    status = sink.status();
  } else {
    FileSinkOptions options;
    options.mode = FileSinkMode::kDeadLetter;
    options.on_error = [](const std::string& message) { spdlog::error("{}", message); };
    auto sink = OpenFileSink(std::get<FileSinkConfig>(dl), options);
    if (sink.ok()) {
      state.file_sinks.push_back(sink.value().get());
      state.dead_letter = std::move(sink.value());
    }
    status = sink.status();
  }
  if (!state.dead_letter) {
    spdlog::error("dead_letter: {}", status.message());
    return StartupFailure(status);
  }
  return kExitOk;
}

// A file source: its checkpoint (if configured) is loaded first, so that following resumes there.
Result<std::unique_ptr<Source>> CreateFileInput(RunState& state, const FileSourceConfig& f,
                                                std::string label) {
  FileFollowerOptions follower_options;
  follower_options.on_notice = [path = f.path.path](const std::string& notice) {
    spdlog::info("file {}: {}", path, notice);
  };
  std::unique_ptr<FileCheckpoint> checkpoint;
  if (f.checkpoint) {
    checkpoint = std::make_unique<FileCheckpoint>(f.checkpoint->path, f.path.path);
    auto saved = checkpoint->Load();
    if (!saved.ok()) {
      // Monitoring goes on from start_at; the next save replaces the bad file.
      spdlog::error("{}: {}; starting as without a checkpoint (start_at)", f.pos.ToString(),
                    saved.status().message());
    } else if (saved.value()) {
      follower_options.resume = *saved.value();
    }
  }
  auto follower = FileFollower::Open(f, state.decoder_options.max_record_bytes, follower_options);
  if (!follower.ok()) {
    spdlog::error("{}: file source {}: {}", f.pos.ToString(), f.path.path,
                  follower.status().message());
    return follower.status();
  }
  return std::unique_ptr<Source>(
      std::make_unique<FileInput>(f, std::move(label), std::move(follower.value()),
                                  std::move(checkpoint), state.context(), state.decoder_options));
}

// What the stateful stage will do, and that its state is not persisted yet.
void LogStateful(const Config& config, const LoadedPolicy& policy) {
  if (!policy.stateful->empty()) {
    spdlog::info(
        "stateful detections: {}; one state per Kafka partition and file source, in memory only "
        "(lost at restart); suppression windows flushed after {} ms without input "
        "(state.idle_flush)",
        DescribeStateful(policy), config.state.idle_flush.count());
  }
  if (config.state.path) {
    spdlog::warn(
        "state.path is set ({}) but snapshots are not implemented yet: the state lives in memory "
        "(lost at restart)",
        config.state.path->path);
  }
}

}  // namespace

int StartupFailure(const Status& status) {
  return status.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

int LoadFirstSnapshot(RunState& state) {
  std::shared_ptr<const Snapshot> snapshot = LoadSnapshot(*state.config, 1, state.metrics.get());
  if (snapshot == nullptr) {
    spdlog::error("not starting");
    return kExitUsage;
  }
  if (state.control.stop.load()) return kExitOk;  // the caller stops
  spdlog::info("policy: {} rules from {} files", snapshot->policy->rules->rules().size(),
               snapshot->policy->defs->files.size());
  LogStateful(*state.config, *snapshot->policy);
  state.metrics->RulesLoaded().Set(static_cast<double>(snapshot->policy->rules->rules().size()));
  state.snapshots.Publish(std::move(snapshot));
  return kExitOk;
}

int CreateSinks(RunState& state) {
  RunControl& control = state.control;
  SinkErrorHandler on_error = [&control](bool fatal, const std::string& message) {
    if (fatal) {
      spdlog::critical("{}", message);
      control.StopFailed();
    } else {
      spdlog::warn("{}", message);
    }
  };
  if (int code = CreateAlertSinks(state, on_error); code != kExitOk) return code;
  if (int code = CreateDeadLetter(state, on_error); code != kExitOk) return code;
  std::vector<Sink*> sinks;
  for (auto& sink : state.sinks) sinks.push_back(sink.get());
  state.delivery =
      std::make_unique<Delivery>(std::move(sinks), state.dead_letter.get(), *state.metrics,
                                 state.counters, state.control, state.clock);
  return kExitOk;
}

void InitMetrics(RunState& state) {
  Metrics& metrics = *state.metrics;
  for (int f = 0; f < kFormatCount; ++f) {
    const std::string_view format = FormatName(static_cast<Format>(f));
    for (int r = 0; r < kDecodeErrorReasonCount; ++r) {
      metrics.DecodeErrors(format, DecodeErrorReasonName(static_cast<DecodeErrorReason>(r)));
    }
    if (static_cast<Format>(f) == Format::kAuto) continue;  // repaired records have a format
    for (int w = 0; w < kDecodeWarningCount; ++w) {
      metrics.DecodeWarnings(format, DecodeWarningName(static_cast<DecodeWarning>(w)));
    }
  }
  // The alert series exist already: the snapshot's AlertCounters created them at 0.
  for (const auto& sink : state.sinks) {
    metrics.SinkErrors(sink->name());
    metrics.SinkPending(sink->name());
  }
  if (state.dead_letter) metrics.SinkErrors(state.dead_letter->name());
  metrics.RulesReload(true);
  metrics.RulesReload(false);
  metrics.DeadLetters();
}

int CreateSources(RunState& state, const ConsumerFactory& consumers) {
  std::vector<std::unique_ptr<Source>> files;
  for (const SourceConfig& sc : state.config->sources) {
    if (auto* k = std::get_if<KafkaSourceConfig>(&sc)) {
      std::string label = "kafka[" + std::to_string(state.sources.size()) + "]";
      auto input = KafkaInput::Create(*k, std::move(label), state.context(), state.work, consumers);
      if (!input.ok()) {
        spdlog::error("{}: kafka source: {}", k->pos.ToString(), input.status().message());
        return StartupFailure(input.status());
      }
      state.sources.push_back(std::move(input.value()));
    } else {
      const auto& f = std::get<FileSourceConfig>(sc);
      auto input = CreateFileInput(state, f, "file[" + std::to_string(files.size()) + "]");
      if (!input.ok()) return StartupFailure(input.status());
      files.push_back(std::move(input.value()));
    }
  }
  for (auto& f : files) state.sources.push_back(std::move(f));
  return kExitOk;
}

int StartMetricsServer(RunState& state) {
  if (!state.config->metrics.enabled) return kExitOk;
  auto server = MetricsServer::Start(state.config->metrics, *state.metrics,
                                     [&state] { return IsReady(state); });
  if (!server.ok()) {
    spdlog::error("metrics: {}", server.status().message());
    return StartupFailure(server.status());
  }
  state.metrics_server = std::move(server.value());
  spdlog::info("metrics on http://{}/metrics (also /healthz, /readyz)",
               state.config->metrics.listen);
  return kExitOk;
}

void StartThreads(RunState& state) {
  const int workers = std::max(1, state.config->workers);
  for (int i = 0; i < workers; ++i) {
    state.workers.emplace_back(RunWorker, state.context(), std::ref(state.work),
                               state.decoder_options);
  }
  size_t kafka = 0;
  for (auto& source : state.sources) {
    source->Start();
    if (dynamic_cast<KafkaInput*>(source.get()) != nullptr) ++kafka;
  }
  spdlog::info("running: {} kafka source(s), {} file source(s), {} sink(s), {} worker(s)", kafka,
               state.sources.size() - kafka, state.sinks.size(), workers);
  sd_notify(0, "READY=1\nSTATUS=running");
}

}  // namespace chipwatch
