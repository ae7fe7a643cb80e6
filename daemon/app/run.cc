// `chipwatch run`: the always-on daemon. Start-up is an ordered list of small steps; every step's
// resources are owned by RunState and torn down in reverse order.
//
// Data flow, at least once end to end:
//   Kafka poll thread --(message + ticket)--> work queue --> workers (decode, enrich, evaluate)
//     --> every sink (and the dead-letter sink) --> acknowledgements --> OffsetTracker::Done
//   poll thread: OffsetTracker::TakeCommittable --> StoreOffset --> librdkafka commits
// A message's offset becomes committable only when every alert it raised (and its dead-letter copy)
// is acknowledged by every sink, and every message before it too. Backpressure: when too many
// messages are in flight (a slow or absent sink), the poll thread pauses its partitions and keeps
// polling, so the group membership stays alive; nothing is dropped.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "app/enrichment.h"
#include "app/logging.h"
#include "app/offset_tracker.h"
#include "app/policy.h"
#include "app/processor.h"
#include "config/config.h"
#include "core/bounded_queue.h"
#include "sink/file_sink.h"
#include "sink/kafka_sink.h"
#include "sink/stdout_sink.h"
#include "source/file_source.h"
#include "source/kafka_consumer.h"

namespace chipwatch {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Messages in flight (consumed, not yet acknowledged by every sink) above which a consumer pauses
// fetching, and below which it resumes.
constexpr size_t kPauseInFlight = 20000;
constexpr size_t kResumeInFlight = 10000;
constexpr milliseconds kPollTimeout(100);
constexpr milliseconds kStoreInterval(200);
constexpr milliseconds kRevokeWait(10000);

std::atomic<bool> g_stop{false};

// Counters for the periodic status line (metrics come from the same places in issue 4).
struct Counters {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> alerts{0};
  std::atomic<uint64_t> decode_failures{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> sink_errors{0};
};

// Counts down the acknowledgements one consumed message waits for; the last one marks it done.
struct Completion {
  std::atomic<int> remaining{1};  // starts with a guard held by the worker
  OffsetTracker* tracker = nullptr;
  OffsetTracker::Ticket ticket;

  void Release() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1 && tracker != nullptr) {
      tracker->Done(ticket);
    }
  }
};

struct KafkaSourceState {
  const KafkaSourceConfig* config = nullptr;
  std::unique_ptr<KafkaConsumer> consumer;
  OffsetTracker tracker;
  std::thread poller;
  std::string label;  // "kafka[0]"
};

struct WorkItem {
  std::unique_ptr<KafkaMessage> message;
  KafkaSourceState* source = nullptr;
  OffsetTracker::Ticket ticket;
};

struct RunState {
  std::unique_ptr<Config> config;
  std::shared_ptr<const LoadedPolicy> policy;
  std::optional<Enrichment> enrichment;
  std::vector<std::unique_ptr<Sink>> sinks;
  std::unique_ptr<Sink> dead_letter;
  std::vector<std::unique_ptr<KafkaSourceState>> kafka;
  std::vector<std::thread> file_threads;
  std::vector<std::unique_ptr<FileFollower>> followers;
  std::unique_ptr<BoundedQueue<WorkItem>> work;
  std::vector<std::thread> workers;
  Counters counters;
};

void LogSinkError(RunState& state, const std::string& sink, const Status& status) {
  state.counters.sink_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("sink {}: {}", sink, status.message());
}

// Hands a record to a sink; the completion is released when the sink acknowledges it. A record a
// sink rejects for good is logged and counted (the daemon cannot deliver it anywhere else).
void DeliverTo(RunState& state, Sink& sink, SinkRecord record,
               const std::shared_ptr<Completion>& completion) {
  completion->remaining.fetch_add(1, std::memory_order_relaxed);
  Status st = sink.Deliver(std::move(record), [&state, &sink, completion](const Status& s) {
    if (!s.ok()) LogSinkError(state, sink.name(), s);
    completion->Release();
  });
  if (!st.ok()) {  // closed: only during shutdown
    LogSinkError(state, sink.name(), st);
    completion->Release();
  }
}

void DeliverAlerts(RunState& state, const ProcessorOutput& out,
                   const std::shared_ptr<Completion>& completion) {
  for (const AlertRef& ref : out.refs) {
    for (auto& sink : state.sinks) {
      SinkRecord record;
      record.key = ref.key;
      record.value = std::string(out.AlertJson(ref));
      DeliverTo(state, *sink, std::move(record), completion);
    }
  }
}

// One dead-letter record per undecodable input (message or line): the original bytes, with the
// reason and the source position in headers.
void DeadLetter(RunState& state, const ProcessorOutput& out, std::string_view original_key,
                std::string_view original, std::vector<SinkHeader> headers,
                const std::shared_ptr<Completion>& completion) {
  if (out.failures.empty()) return;
  state.counters.decode_failures.fetch_add(out.failures.size(), std::memory_order_relaxed);
  const DecodeFailure& first = out.failures.front();
  for (const DecodeFailure& f : out.failures) {
    spdlog::warn("{}:{}{}: cannot decode {} record: {}: {}", f.origin.file,
                 f.origin.partition >= 0
                     ? std::to_string(f.origin.partition) + "@" + std::to_string(f.origin.offset)
                     : std::to_string(f.origin.line),
                 f.origin.index > 0 ? " (record " + std::to_string(f.origin.index) + ")" : "",
                 FormatName(f.format), DecodeErrorReasonName(f.reason), f.message);
  }
  if (!state.dead_letter) return;
  headers.push_back({"chipwatch.reason", std::string(DecodeErrorReasonName(first.reason))});
  headers.push_back({"chipwatch.error", first.message});
  headers.push_back({"chipwatch.format", std::string(FormatName(first.format))});
  headers.push_back({"chipwatch.failed_records", std::to_string(out.failures.size())});
  headers.push_back({"chipwatch.record_index", std::to_string(first.origin.index)});
  SinkRecord record;
  record.key = std::string(original_key);
  record.value = std::string(original);
  record.headers = std::move(headers);
  state.counters.dead_letters.fetch_add(1, std::memory_order_relaxed);
  DeliverTo(state, *state.dead_letter, std::move(record), completion);
}

void WorkerLoop(RunState& state, DecoderOptions decoder_options) {
  EventProcessor processor(
      state.policy, state.enrichment ? state.enrichment->external.get() : nullptr, decoder_options);
  ProcessorOutput out;
  std::string topic;
  while (auto item = state.work->Pop()) {
    KafkaMessage& msg = *item->message;
    auto completion = std::make_shared<Completion>();
    completion->tracker = &item->source->tracker;
    completion->ticket = item->ticket;
    out.Clear();
    topic.assign(msg.topic());
    Origin origin;
    origin.file = topic;
    origin.partition = msg.partition();
    origin.offset = msg.offset();
    const std::string_view payload = msg.payload();
    processor.Process(payload, payload.size(), item->source->consumer->FormatOf(topic), origin,
                      out);
    state.counters.messages.fetch_add(1, std::memory_order_relaxed);
    state.counters.events.fetch_add(out.events, std::memory_order_relaxed);
    state.counters.alerts.fetch_add(out.alert_count, std::memory_order_relaxed);
    DeliverAlerts(state, out, completion);
    if (!out.failures.empty()) {
      std::vector<SinkHeader> headers;
      for (auto& [name, value] : msg.headers()) headers.push_back({name, value});
      headers.push_back({"chipwatch.source.topic", topic});
      headers.push_back({"chipwatch.source.partition", std::to_string(msg.partition())});
      headers.push_back({"chipwatch.source.offset", std::to_string(msg.offset())});
      DeadLetter(state, out, msg.key(), payload, std::move(headers), completion);
    }
    completion->Release();  // the worker's guard
  }
}

// Stores the offsets that became committable (for `only` partitions, or all).
void StoreCommittable(KafkaSourceState& source, const std::vector<TopicPartition>& only = {}) {
  for (auto& [tp, next] : source.tracker.TakeCommittable(only)) {
    Status st = source.consumer->StoreOffset(tp, next);
    if (!st.ok()) {
      spdlog::warn("{}: cannot store offset {} for {}[{}]: {}", source.label, next, tp.topic,
                   tp.partition, st.message());
    }
  }
}

void PollLoop(RunState& state, KafkaSourceState& source) {
  bool paused = false;
  auto last_store = Clock::now();
  while (!g_stop.load(std::memory_order_relaxed)) {
    std::unique_ptr<KafkaMessage> msg = source.consumer->Poll(kPollTimeout);
    if (msg) {
      TopicPartition tp{std::string(msg->topic()), msg->partition()};
      WorkItem item;
      item.ticket = source.tracker.Begin(tp, msg->offset());
      item.source = &source;
      item.message = std::move(msg);
      if (!state.work->Push(std::move(item))) break;  // closed: shutting down
    }
    const size_t in_flight = source.tracker.in_flight();
    if (!paused && in_flight >= kPauseInFlight) {
      spdlog::warn("{}: {} messages waiting for sink acknowledgements; pausing consumption",
                   source.label, in_flight);
      source.consumer->PauseAll();
      paused = true;
    } else if (paused && in_flight <= kResumeInFlight) {
      spdlog::info("{}: sinks caught up ({} in flight); resuming consumption", source.label,
                   in_flight);
      source.consumer->ResumeAll();
      paused = false;
    }
    if (Clock::now() - last_store >= kStoreInterval) {
      StoreCommittable(source);
      last_store = Clock::now();
    }
  }
}

void FileLoop(RunState& state, FileFollower& follower, const FileSourceConfig& config,
              DecoderOptions decoder_options) {
  EventProcessor processor(
      state.policy, state.enrichment ? state.enrichment->external.get() : nullptr, decoder_options);
  ProcessorOutput out;
  FileFollower::Line line;
  while (!g_stop.load(std::memory_order_relaxed)) {
    if (!follower.Next(line, kPollTimeout)) {
      if (follower.done()) {
        if (!follower.status().ok()) {
          spdlog::error("file {}: {}", config.path.path, follower.status().message());
        }
        break;
      }
      continue;
    }
    auto completion = std::make_shared<Completion>();  // no offsets: files are not checkpointed
    out.Clear();
    Origin origin;
    origin.file = config.path.path;
    origin.line = line.line;
    if (!line.error.empty()) {
      DecodeFailure f;
      f.origin = origin;
      f.format = config.format;
      f.reason = DecodeErrorReason::kTooLarge;
      f.message = line.error;
      out.failures.push_back(std::move(f));
    } else {
      processor.Process(line.text, line.capacity, config.format, origin, out);
    }
    state.counters.messages.fetch_add(1, std::memory_order_relaxed);
    state.counters.events.fetch_add(out.events, std::memory_order_relaxed);
    state.counters.alerts.fetch_add(out.alert_count, std::memory_order_relaxed);
    DeliverAlerts(state, out, completion);
    DeadLetter(state, out, {}, line.text,
               {{"chipwatch.source.file", config.path.path},
                {"chipwatch.source.line", std::to_string(line.line)}},
               completion);
    completion->Release();
  }
}

// ---- start-up steps ----

bool CreateSinks(RunState& state) {
  auto on_error = [](bool fatal, const std::string& message) {
    if (fatal) {
      spdlog::critical("{}", message);
      g_stop.store(true);
    } else {
      spdlog::warn("{}", message);
    }
  };
  auto file_error = [](const std::string& message) { spdlog::error("{}", message); };
  for (const SinkConfig& sc : state.config->sinks) {
    if (auto* k = std::get_if<KafkaSinkConfig>(&sc)) {
      auto sink = CreateKafkaSink(*k, on_error);
      if (!sink.ok()) {
        spdlog::error("{}: kafka sink {}: {}", k->pos.ToString(), k->topic,
                      sink.status().message());
        return false;
      }
      state.sinks.push_back(std::move(sink.value()));
    } else if (auto* f = std::get_if<FileSinkConfig>(&sc)) {
      auto sink = CreateFileSink(*f, FileSinkMode::kAlerts, file_error);
      if (!sink.ok()) {
        spdlog::error("{}: file sink {}: {}", f->pos.ToString(), f->path.path,
                      sink.status().message());
        return false;
      }
      state.sinks.push_back(std::move(sink.value()));
    } else {
      state.sinks.push_back(CreateStdoutSink(STDOUT_FILENO, file_error));
    }
  }
  if (state.config->dead_letter) {
    const DeadLetterConfig& dl = *state.config->dead_letter;
    Status status;
    if (auto* k = std::get_if<KafkaSinkConfig>(&dl)) {
      auto sink = CreateKafkaSink(*k, on_error);
      if (sink.ok()) state.dead_letter = std::move(sink.value());
      status = sink.status();
    } else {
      auto sink =
          CreateFileSink(std::get<FileSinkConfig>(dl), FileSinkMode::kDeadLetter, file_error);
      if (sink.ok()) state.dead_letter = std::move(sink.value());
      status = sink.status();
    }
    if (!state.dead_letter) {
      spdlog::error("dead_letter: {}", status.message());
      return false;
    }
  }
  return true;
}

bool CreateSources(RunState& state, DecoderOptions decoder_options) {
  int kafka_index = 0;
  for (const SourceConfig& sc : state.config->sources) {
    if (auto* k = std::get_if<KafkaSourceConfig>(&sc)) {
      auto source = std::make_unique<KafkaSourceState>();
      source->config = k;
      source->label = "kafka[" + std::to_string(kafka_index++) + "]";
      KafkaSourceState* raw = source.get();
      ConsumerCallbacks callbacks;
      callbacks.on_assigned = [raw](const std::vector<TopicPartition>& tps) {
        for (const auto& tp : tps) {
          raw->tracker.Assign(tp);
          spdlog::info("{}: assigned {}[{}]", raw->label, tp.topic, tp.partition);
        }
      };
      callbacks.on_revoked = [raw](const std::vector<TopicPartition>& tps, bool lost) {
        if (!lost) {
          // Finish what is in flight for these partitions and commit it, so that the next owner
          // starts right after it.
          if (!raw->tracker.WaitIdle(tps, kRevokeWait)) {
            spdlog::warn(
                "{}: {} messages of revoked partitions still unacknowledged; their "
                "alerts may be raised again by the next owner",
                raw->label, raw->tracker.in_flight(tps));
          }
          StoreCommittable(*raw, tps);
          Status st = raw->consumer->CommitSync();
          if (!st.ok()) spdlog::warn("{}: commit on revoke: {}", raw->label, st.message());
        }
        for (const auto& tp : tps) {
          raw->tracker.Revoke(tp);
          spdlog::info("{}: {} {}[{}]", raw->label, lost ? "lost" : "revoked", tp.topic,
                       tp.partition);
        }
      };
      callbacks.on_error = [raw](bool fatal, const std::string& message) {
        if (fatal) {
          spdlog::critical("{}: {}", raw->label, message);
          g_stop.store(true);
        } else {
          spdlog::warn("{}: {}", raw->label, message);
        }
      };
      auto consumer = KafkaConsumer::Create(*k, std::move(callbacks));
      if (!consumer.ok()) {
        spdlog::error("{}: kafka source: {}", k->pos.ToString(), consumer.status().message());
        return false;
      }
      source->consumer = std::move(consumer.value());
      state.kafka.push_back(std::move(source));
    } else {
      const auto& f = std::get<FileSourceConfig>(sc);
      FileFollowerOptions follower_options;
      follower_options.on_notice = [path = f.path.path](const std::string& notice) {
        spdlog::info("file {}: {}", path, notice);
      };
      auto follower = FileFollower::Open(f, decoder_options.max_record_bytes, follower_options);
      if (!follower.ok()) {
        spdlog::error("{}: file source {}: {}", f.pos.ToString(), f.path.path,
                      follower.status().message());
        return false;
      }
      state.followers.push_back(std::move(follower.value()));
    }
  }
  return true;
}

// Blocks the stop signals in every thread; a dedicated thread waits for them.
std::thread StartSignalThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      if (g_stop.exchange(true)) {
        // A second stop signal while shutting down: the operator wants out now. Nothing is lost:
        // unacknowledged messages are simply consumed again after the restart.
        spdlog::warn("second stop signal: exiting without waiting");
        std::_Exit(kExitPartial);
      }
      spdlog::info("{} received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  });
}

void LogStatus(const RunState& state) {
  size_t in_flight = 0;
  for (const auto& k : state.kafka) in_flight += k->tracker.in_flight();
  spdlog::info(
      "status: {} messages, {} events, {} alerts, {} undecodable, {} dead-lettered, {} "
      "sink errors, {} in flight",
      state.counters.messages.load(), state.counters.events.load(), state.counters.alerts.load(),
      state.counters.decode_failures.load(), state.counters.dead_letters.load(),
      state.counters.sink_errors.load(), in_flight);
}

// Stop fetching, finish what is in flight, flush the sinks, commit, leave the groups.
int Shutdown(RunState& state, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto left = [&] {
    return std::max(milliseconds(0),
                    std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  };
  for (auto& k : state.kafka) {
    k->consumer->Wake();
    if (k->poller.joinable()) k->poller.join();
  }
  for (auto& f : state.followers) f->Wake();
  for (auto& t : state.file_threads) t.join();
  state.work->Close();  // workers drain what was already consumed, then stop
  for (auto& w : state.workers) w.join();
  bool clean = true;
  for (auto& k : state.kafka) {
    if (!k->tracker.WaitIdle({}, left())) {
      spdlog::warn(
          "{}: shutdown timeout with {} messages unacknowledged; they will be processed "
          "again after restart",
          k->label, k->tracker.in_flight());
      clean = false;
    }
  }
  for (auto& sink : state.sinks) {
    if (!sink->Flush(left())) {
      spdlog::warn("sink {}: {} records not flushed before the shutdown timeout", sink->name(),
                   sink->pending());
      clean = false;
    }
  }
  if (state.dead_letter && !state.dead_letter->Flush(left())) clean = false;
  for (auto& k : state.kafka) {
    StoreCommittable(*k);
    Status st = k->consumer->CommitSync();
    if (!st.ok()) spdlog::warn("{}: final commit: {}", k->label, st.message());
    st = k->consumer->Close();
    if (!st.ok()) spdlog::warn("{}: close: {}", k->label, st.message());
  }
  LogStatus(state);
  spdlog::info("stopped{}", clean ? "" : " (shutdown timeout reached; see warnings above)");
  return kExitOk;
}

}  // namespace

int RunDaemon(const RunOptions& options) {
  RunState state;
  Diagnostics diags;
  state.config = LoadConfig(options.config, diags);
  for (const Diagnostic& d : diags.items()) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (state.config == nullptr) {
    std::fprintf(stderr, "chipwatch run: %s has %zu error(s)\n", options.config.c_str(),
                 diags.error_count());
    return kExitUsage;
  }
  if (options.log_level) state.config->log.level = *options.log_level;
  SetupLogging(state.config->log);
  spdlog::info("chipwatch starting with {}", options.config);
  for (const std::string& line : [&] {
         std::vector<std::string> lines;
         std::string text = state.config->Redacted();
         size_t start = 0;
         while (start < text.size()) {
           size_t nl = text.find('\n', start);
           if (nl == std::string::npos) nl = text.size();
           lines.push_back(text.substr(start, nl - start));
           start = nl + 1;
         }
         return lines;
       }()) {
    spdlog::debug("config: {}", line);
  }

  std::vector<std::string> rule_paths;
  for (const ConfigPath& p : state.config->rules) rule_paths.push_back(p.path);
  Diagnostics rule_diags;
  state.policy = LoadPolicy(rule_paths, rule_diags);
  for (const Diagnostic& d : rule_diags.items()) {
    if (d.level == Diagnostic::Level::kError) spdlog::error("{}", d.ToString());
  }
  if (state.policy == nullptr) {
    spdlog::error("the rules have {} error(s); not starting", rule_diags.error_count());
    return kExitUsage;
  }
  spdlog::info("policy: {} rules from {} files", state.policy->rules->rules().size(),
               state.policy->defs->files.size());
  EnrichOptions enrich;
  if (state.config->geoip) enrich.geoip = state.config->geoip->path;
  if (state.config->directory) enrich.directory = state.config->directory->path;
  state.enrichment = LoadEnrichment(enrich, stderr);
  if (!state.enrichment) return kExitUsage;

  std::thread signals = StartSignalThread();
  signals.detach();  // exits after the first stop signal; the process ends soon after

  if (!CreateSinks(state)) return kExitUsage;
  DecoderOptions decoder_options;
  decoder_options.max_record_bytes = state.config->limits.max_record_bytes;
  if (!CreateSources(state, decoder_options)) return kExitUsage;

  state.work = std::make_unique<BoundedQueue<WorkItem>>(kPauseInFlight * 2);
  const int workers = std::max(1, state.config->workers);
  for (int i = 0; i < workers; ++i) {
    state.workers.emplace_back(WorkerLoop, std::ref(state), decoder_options);
  }
  for (auto& k : state.kafka) {
    k->poller = std::thread(PollLoop, std::ref(state), std::ref(*k));
  }
  for (size_t i = 0, f = 0; i < state.config->sources.size(); ++i) {
    if (auto* fc = std::get_if<FileSourceConfig>(&state.config->sources[i])) {
      state.file_threads.emplace_back(FileLoop, std::ref(state), std::ref(*state.followers[f++]),
                                      std::cref(*fc), decoder_options);
    }
  }
  spdlog::info("running: {} kafka source(s), {} file source(s), {} sink(s), {} worker(s)",
               state.kafka.size(), state.followers.size(), state.sinks.size(), workers);

  auto last_status = Clock::now();
  while (!g_stop.load()) {
    std::this_thread::sleep_for(milliseconds(100));
    if (Clock::now() - last_status >= std::chrono::seconds(60)) {
      LogStatus(state);
      last_status = Clock::now();
    }
    // Without Kafka sources, the daemon ends when every (non-following) file is read.
    if (state.kafka.empty()) {
      bool all_done = true;
      for (auto& f : state.followers) all_done = all_done && f->done();
      if (all_done) break;
    }
  }
  g_stop.store(true);
  return Shutdown(state, state.config->shutdown_timeout);
}

}  // namespace chipwatch
