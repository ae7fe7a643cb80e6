// `chipwatch run`: the always-on daemon. Start-up is an ordered list of small steps; every step's
// resources are owned by RunState and torn down in reverse order.
//
// Data flow, at least once end to end:
//   Kafka poll thread --(message + ticket)--> work queue --> workers (decode, enrich, evaluate)
//     --> every sink (and the dead-letter sink) --> acknowledgements --> OffsetTracker::Done
//   poll thread: OffsetTracker::TakeCommittable --> StoreOffset --> librdkafka commits
// A message's offset becomes committable only when every alert it raised (and its dead-letter copy)
// is acknowledged by every sink, and every message before it too; committed every second while
// busy, and at once when the source has caught up. Flow control: the poll thread takes a message
// only while the work queue is short, so a backlog waits in librdkafka's prefetch buffer.
// Backpressure: when too many messages are in flight (a slow or absent sink), or the workers are
// blocked, the poll thread pauses its partitions and keeps polling, so the group membership stays
// alive; nothing is dropped.
//
// Reload (SIGHUP): the main thread re-reads the config, rules and enrichment data off the hot path
// and publishes a new immutable snapshot; each worker picks it up between two messages, so every
// message is evaluated by exactly one policy. A bad reload keeps the old snapshot.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "app/enrichment.h"
#include "app/file_checkpoint.h"
#include "app/input_reader.h"
#include "app/logging.h"
#include "app/offset_tracker.h"
#include "app/policy.h"
#include "app/processor.h"
#include "config/config.h"
#include "core/bounded_queue.h"
#include "core/version.h"
#include "metrics/metrics.h"
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
// Messages handed to the workers and not yet taken by one, above which a poll thread stops taking
// messages from librdkafka (the rest of a backlog waits in librdkafka's prefetch buffer, which a
// pause would throw away and fetch again); it goes on below half of it.
constexpr size_t kWorkQueueHigh = 4096;
// Workers that take nothing for this long are blocked (by full sinks): the consumer pauses, so
// that the poll thread can go on polling (group membership) without taking more messages.
constexpr milliseconds kWorkersStalled(2000);
constexpr milliseconds kPollTimeout(100);
// Poll timeout while messages are in flight or stored offsets are not committed yet, so that the
// offsets of the last messages before a quiet period are stored and committed within milliseconds
// of their last acknowledgement, not at the next automatic commit.
constexpr milliseconds kBusyPollTimeout(10);
constexpr milliseconds kStoreInterval(200);
// At most this often an explicit commit when the consumer has caught up and everything consumed is
// acknowledged (busy consumers rely on librdkafka's automatic commit, auto.commit.interval.ms).
constexpr milliseconds kIdleCommitInterval(100);
constexpr milliseconds kRevokeWait(10000);
// How often a file source's checkpoint is written while lines keep coming.
constexpr milliseconds kCheckpointInterval(1000);

std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_signal{0};  // the signal that set g_stop, if one did (logged by main)
std::atomic<bool> g_reload{false};
// Set with g_stop when the daemon stops for any reason other than SIGTERM/SIGINT (a record that
// can be delivered nowhere, a fatal Kafka client error): the process then exits 1, so that
// systemd restarts it (Restart=on-failure) and the "daemon down" alert fires.
std::atomic<bool> g_failed{false};

void StopFailed() {
  g_failed.store(true);
  g_stop.store(true);
}

// Counters for the periodic status line (metrics come from the same places in issue 4).
struct Counters {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> alerts{0};
  std::atomic<uint64_t> decode_failures{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> sink_errors{0};
};

// Where a consumed message (Kafka) or line (file) came from: named in the headers of its dead
// letters and in the error that stops the daemon.
struct SourcePosition {
  std::string name;        // topic or file path
  int32_t partition = -1;  // -1: a file
  int64_t position = 0;    // offset, or line number

  std::string ToString() const {
    return partition >= 0 ? name + "[" + std::to_string(partition) + "]@" + std::to_string(position)
                          : name + ":" + std::to_string(position);
  }
  void AppendHeaders(std::vector<SinkHeader>& headers) const {
    if (partition >= 0) {
      headers.push_back({"chipwatch.source.topic", name});
      headers.push_back({"chipwatch.source.partition", std::to_string(partition)});
      headers.push_back({"chipwatch.source.offset", std::to_string(position)});
    } else {
      headers.push_back({"chipwatch.source.file", name});
      headers.push_back({"chipwatch.source.line", std::to_string(position)});
    }
  }
};

// Counts down the acknowledgements one consumed message waits for; the last one marks it done, or
// failed when one of its records could be delivered nowhere (never committed past).
struct Completion {
  std::atomic<int> remaining{1};  // starts with a guard held by the worker
  std::atomic<bool> failed{false};
  OffsetTracker* tracker = nullptr;
  OffsetTracker::Ticket ticket;
  SourcePosition source;

  void Release() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1 && tracker != nullptr) {
      if (failed.load(std::memory_order_acquire)) {
        tracker->Fail(ticket);
      } else {
        tracker->Done(ticket);
      }
    }
  }
};

// What workers evaluate with: replaced as a whole by a reload.
struct Snapshot {
  std::shared_ptr<const LoadedPolicy> policy;
  std::shared_ptr<const Enrichment> enrichment;
  uint64_t generation = 0;
};

struct KafkaSourceState {
  const KafkaSourceConfig* config = nullptr;
  std::unique_ptr<KafkaConsumer> consumer;
  OffsetTracker tracker;
  std::thread poller;
  std::string label;                     // "kafka[0]": the `source` label of metrics
  std::atomic<bool> assigned{false};     // has joined its group (readiness)
  std::atomic<int64_t> last_poll_ms{0};  // the poll thread is alive (watchdog)
  Counter* messages = nullptr;
  Gauge* in_flight = nullptr;
  Gauge* paused = nullptr;
  std::map<std::string, Counter*, std::less<>> events_by_topic;  // built at start, read-only after
};

struct WorkItem {
  std::unique_ptr<KafkaMessage> message;
  KafkaSourceState* source = nullptr;
  OffsetTracker::Ticket ticket;
};

struct RunState {
  std::unique_ptr<Config> config;
  std::string config_path;
  std::optional<LogLevel> log_level;  // --log-level: overrides the config's, reloads included
  std::atomic<std::shared_ptr<const Snapshot>> snapshot;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<MetricsServer> metrics_server;
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<FileSink*> file_sinks;  // also owned by `sinks`/`dead_letter`: reopened on SIGHUP
  std::unique_ptr<Sink> dead_letter;
  std::vector<std::unique_ptr<KafkaSourceState>> kafka;
  std::vector<std::thread> file_threads;
  std::vector<std::unique_ptr<FileFollower>> followers;
  std::vector<std::unique_ptr<FileCheckpoint>> checkpoints;  // per follower; null: none configured
  // The hand-off to the workers. Kafka poll threads take a message from librdkafka only while
  // fewer than kWorkQueueHigh wait (WaitForRoom), so Push() does not block them; file sources are
  // slowed down by the capacity.
  std::unique_ptr<BoundedQueue<WorkItem>> work;
  std::vector<std::thread> workers;
  Counters counters;
  // (file or topic[partition], repair) pairs already logged: a repair is logged once per source.
  std::mutex repairs_mu;
  std::set<std::pair<std::string, DecodeWarning>> repairs_logged;  // repairs_mu
};

void CountSinkError(RunState& state, const std::string& sink) {
  state.counters.sink_errors.fetch_add(1, std::memory_order_relaxed);
  state.metrics->SinkErrors(sink).Inc();
}

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count();
}

void DeliverTo(RunState& state, Sink& sink, SinkRecord record,
               const std::shared_ptr<Completion>& completion);

// A sink did not deliver a record of the message `completion` tracks. The message is never
// committed past unless the record is rescued: an alert refused for good goes to the dead-letter
// destination, whose acknowledgement then stands for the refused one. Anything else (no dead
// letter, the dead letter itself refusing, a closed sink) marks the message failed; a refusal
// also stops the daemon with exit status 1.
void OnNotDelivered(RunState& state, const Sink& sink, const Status& error, SinkRecord* refused,
                    const std::shared_ptr<Completion>& completion) {
  if (error.code() == Status::Code::kCancelled) {
    // Shutdown: the message is consumed again after the restart.
    spdlog::debug("{}: {}", completion->source.ToString(), error.message());
    completion->failed.store(true, std::memory_order_release);
    return;
  }
  CountSinkError(state, sink.name());
  if (refused != nullptr && state.dead_letter != nullptr) {
    spdlog::error("sink {} refused an alert of {}: {}; sending it to the dead letter {}",
                  sink.name(), completion->source.ToString(), error.message(),
                  state.dead_letter->name());
    refused->headers.push_back({"chipwatch.reason", "sink_rejected"});
    refused->headers.push_back({"chipwatch.sink", sink.name()});
    refused->headers.push_back({"chipwatch.error", error.message()});
    completion->source.AppendHeaders(refused->headers);
    state.counters.dead_letters.fetch_add(1, std::memory_order_relaxed);
    state.metrics->DeadLetters().Inc();
    DeliverTo(state, *state.dead_letter, std::move(*refused), completion);
    return;
  }
  completion->failed.store(true, std::memory_order_release);
  const bool first = !g_failed.exchange(true);
  g_stop.store(true);
  if (!first) {  // the daemon is already stopping: one critical line is enough
    spdlog::error("sink {} also refused a record of {}: {}", sink.name(),
                  completion->source.ToString(), error.message());
    return;
  }
  spdlog::critical(
      "sink {} refused a record of {} for good: {}; {}. Stopping without committing {} (exit "
      "status 1): fix the destination, and the restarted daemon delivers it again",
      sink.name(), completion->source.ToString(), error.message(),
      &sink == state.dead_letter.get() ? "the dead letter cannot take it either"
                                       : "no dead_letter is configured to take it",
      completion->source.ToString());
}

// Hands a record to a sink; the completion is released when the sink acknowledges it, or when a
// record it refused is rescued (OnNotDelivered).
void DeliverTo(RunState& state, Sink& sink, SinkRecord record,
               const std::shared_ptr<Completion>& completion) {
  completion->remaining.fetch_add(1, std::memory_order_relaxed);
  const auto start = Clock::now();
  // An alert refused for good can be rescued by the dead letter: keep a copy for it (alerts are
  // rare next to events; dead letters themselves have nowhere further to go).
  std::shared_ptr<SinkRecord> copy;
  if (state.dead_letter != nullptr && &sink != state.dead_letter.get()) {
    copy = std::make_shared<SinkRecord>(SinkRecord{record.key, record.value, {}});
  }
  auto done = [&state, &sink, completion, start, copy](const Status& s) {
    if (s.ok()) {
      state.metrics->AlertDelivery().Observe(
          std::chrono::duration<double>(Clock::now() - start).count());
    } else {
      OnNotDelivered(state, sink, s, copy.get(), completion);
    }
    completion->Release();
  };
  Status st = sink.Deliver(std::move(record), done);
  if (!st.ok()) {  // closed: only during shutdown
    done(st);
  }
}

void DeliverAlerts(RunState& state, const ProcessorOutput& out,
                   const std::shared_ptr<Completion>& completion) {
  for (const AlertRef& ref : out.refs) {
    ref.alerts_total->Inc();  // set by WorkerProcessor's processors
    for (auto& sink : state.sinks) {
      SinkRecord record;
      record.key = ref.key;
      record.value = std::string(out.AlertJson(ref));
      DeliverTo(state, *sink, std::move(record), completion);
    }
  }
}

// One dead-letter record per undecodable input (message or line): the original bytes, with the
// reason and the source position in headers (`headers` may carry the message's own first).
void DeadLetter(RunState& state, const ProcessorOutput& out, std::string_view original_key,
                std::string_view original, std::vector<SinkHeader> headers,
                const std::shared_ptr<Completion>& completion) {
  if (out.failures.empty()) return;
  state.counters.decode_failures.fetch_add(out.failures.size(), std::memory_order_relaxed);
  const DecodeFailure& first = out.failures.front();
  for (const DecodeFailure& f : out.failures) {
    state.metrics->DecodeErrors(FormatName(f.format), DecodeErrorReasonName(f.reason)).Inc();
    spdlog::warn("{}:{}{}: cannot decode {} record: {}: {}", f.origin.file,
                 f.origin.partition >= 0
                     ? std::to_string(f.origin.partition) + "@" + std::to_string(f.origin.offset)
                     : std::to_string(f.origin.line),
                 f.origin.index > 0 ? " (record " + std::to_string(f.origin.index) + ")" : "",
                 FormatName(f.format), DecodeErrorReasonName(f.reason), f.message);
  }
  if (!state.dead_letter) return;
  completion->source.AppendHeaders(headers);
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
  state.metrics->DeadLetters().Inc();
  DeliverTo(state, *state.dead_letter, std::move(record), completion);
}

// Records evaluated after a repair (lenient decoding): counted, and logged once per file or
// partition and kind of repair.
void ReportRepairs(RunState& state, const ProcessorOutput& out) {
  for (const DecodeRepairNote& w : out.warnings) {
    state.metrics->DecodeWarnings(FormatName(w.format), DecodeWarningName(w.reason)).Inc();
    std::string where(w.origin.file);
    if (w.origin.partition >= 0) where += "[" + std::to_string(w.origin.partition) + "]";
    {
      std::lock_guard lock(state.repairs_mu);
      if (!state.repairs_logged.emplace(where, w.reason).second) continue;
    }
    spdlog::warn(
        "{}: {} {} record evaluated {} (first at {}; further ones from here are only counted in "
        "chipwatch_decode_warnings_total)",
        where, DecodeWarningName(w.reason), FormatName(w.format),
        w.reason == DecodeWarning::kMissingId
            ? "with an id derived from its bytes (cw-...)"
            : "with the time it was read as its event time (time_source: read)",
        w.origin.partition >= 0 ? "offset " + std::to_string(w.origin.offset)
                                : "line " + std::to_string(w.origin.line));
  }
}

// A worker's processor, rebuilt when a reload published a new snapshot.
class WorkerProcessor {
 public:
  WorkerProcessor(RunState& state, DecoderOptions options) : state_(state), options_(options) {}

  EventProcessor& Get() {
    std::shared_ptr<const Snapshot> current = state_.snapshot.load();
    if (!processor_ || current->generation != snapshot_->generation) {
      snapshot_ = std::move(current);
      processor_ = std::make_unique<EventProcessor>(
          snapshot_->policy, snapshot_->enrichment->external.get(), options_);
      processor_->set_alert_counters(
          std::make_shared<const AlertCounters>(*state_.metrics, *snapshot_->policy->rules));
    }
    return *processor_;
  }

 private:
  RunState& state_;
  DecoderOptions options_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::unique_ptr<EventProcessor> processor_;
};

void WorkerLoop(RunState& state, DecoderOptions decoder_options) {
  WorkerProcessor worker(state, decoder_options);
  ProcessorOutput out;
  std::string topic;
  std::string padded;  // a message of several lines, padded for the framer
  while (auto item = state.work->Pop()) {
    KafkaMessage& msg = *item->message;
    EventProcessor& processor = worker.Get();
    out.Clear();
    topic.assign(msg.topic());
    auto completion = std::make_shared<Completion>();
    completion->tracker = &item->source->tracker;
    completion->ticket = item->ticket;
    completion->source = SourcePosition{topic, msg.partition(), msg.offset()};
    Origin origin;
    origin.file = topic;
    origin.partition = msg.partition();
    origin.offset = msg.offset();
    origin.read_time_ms = msg.timestamp_ms() > 0 ? msg.timestamp_ms() : WallClockMs();
    const std::string_view payload = msg.payload();
    const auto start = Clock::now();
    const Format format = item->source->consumer->FormatOf(topic);
    if (HasSeveralLines(payload)) {
      ProcessLines(processor, payload, format, origin, decoder_options, padded, out);
    } else {
      processor.Process(payload, payload.size(), format, origin, out);
    }
    state.metrics->EventProcessing().Observe(
        std::chrono::duration<double>(Clock::now() - start).count());
    item->source->messages->Inc();
    if (auto it = item->source->events_by_topic.find(topic);
        it != item->source->events_by_topic.end()) {
      it->second->Inc(static_cast<double>(out.events));
    }
    state.counters.messages.fetch_add(1, std::memory_order_relaxed);
    state.counters.events.fetch_add(out.events, std::memory_order_relaxed);
    state.counters.alerts.fetch_add(out.alert_count, std::memory_order_relaxed);
    if (!out.warnings.empty()) ReportRepairs(state, out);
    DeliverAlerts(state, out, completion);
    if (!out.failures.empty()) {
      std::vector<SinkHeader> headers;
      for (auto& [name, value] : msg.headers()) headers.push_back({name, value});
      DeadLetter(state, out, msg.key(), payload, std::move(headers), completion);
    }
    completion->Release();  // the worker's guard
  }
}

// Stores the offsets that became committable (for `only` partitions, or all). Returns how many
// partitions moved.
size_t StoreCommittable(KafkaSourceState& source, const std::vector<TopicPartition>& only = {}) {
  size_t stored = 0;
  for (auto& [tp, next] : source.tracker.TakeCommittable(only)) {
    Status st = source.consumer->StoreOffset(tp, next);
    if (st.ok()) {
      ++stored;
    } else {
      spdlog::warn("{}: cannot store offset {} for {}[{}]: {}", source.label, next, tp.topic,
                   tp.partition, st.message());
    }
  }
  return stored;
}

void PollLoop(RunState& state, KafkaSourceState& source) {
  bool paused = false;
  bool uncommitted = false;  // offsets stored since the last explicit commit
  auto now = Clock::now();
  auto last_store = now;
  auto last_commit = now;
  auto last_lag = now;
  auto workers_busy_since = Clock::time_point::max();  // since when the work queue has been full
  size_t in_flight = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    source.last_poll_ms.store(
        std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count(),
        std::memory_order_relaxed);
    // Flow control: take a message only when the workers have room for it. While they are behind,
    // the backlog stays in librdkafka's prefetch buffer (a pause would throw that away).
    const bool room = state.work->WaitForRoom(kWorkQueueHigh, kPollTimeout);
    if (room) {
      workers_busy_since = Clock::time_point::max();
    } else if (workers_busy_since == Clock::time_point::max()) {
      workers_busy_since = Clock::now() - kPollTimeout;
    }
    bool got = false;
    // Paused: poll anyway (rebalances, group membership); paused partitions deliver nothing.
    if (room || paused) {
      const bool busy = uncommitted || in_flight > 0;
      std::unique_ptr<KafkaMessage> msg =
          source.consumer->Poll(busy ? kBusyPollTimeout : kPollTimeout);
      if (msg) {
        got = true;
        WorkItem item;
        item.ticket = source.tracker.Begin(msg->topic(), msg->partition(), msg->offset());
        item.source = &source;
        item.message = std::move(msg);
        if (!state.work->Push(std::move(item))) break;  // closed: shutting down
      }
    }
    now = Clock::now();
    in_flight = source.tracker.in_flight();
    const bool stalled = now - workers_busy_since >= kWorkersStalled;
    if (!paused && (in_flight >= kPauseInFlight || stalled)) {
      if (stalled) {
        spdlog::warn("{}: workers took no message for {} ms ({} in flight); pausing consumption",
                     source.label, kWorkersStalled.count(), in_flight);
      } else {
        spdlog::warn("{}: {} messages waiting for sink acknowledgements; pausing consumption",
                     source.label, in_flight);
      }
      source.consumer->PauseAll();
      paused = true;
      source.paused->Set(1);
    } else if (paused && in_flight <= kResumeInFlight && !stalled &&
               state.work->size() < kWorkQueueHigh) {
      spdlog::info("{}: sinks caught up ({} in flight); resuming consumption", source.label,
                   in_flight);
      source.consumer->ResumeAll();
      paused = false;
      source.paused->Set(0);
    }
    // Offsets: stored every kStoreInterval while messages flow (librdkafka commits them every
    // auto.commit.interval.ms), at once when the consumer is idle; and committed at once when it
    // has caught up and everything it consumed is acknowledged.
    if (!got || now - last_store >= kStoreInterval) {
      if (StoreCommittable(source) > 0) uncommitted = true;
      source.in_flight->Set(static_cast<double>(in_flight));
      last_store = now;
    }
    if (!got && uncommitted && in_flight == 0 && now - last_commit >= kIdleCommitInterval) {
      Status st = source.consumer->CommitAsync();
      if (!st.ok()) spdlog::warn("{}: {}", source.label, st.message());
      uncommitted = false;
      last_commit = now;
    }
    if (now - last_lag >= std::chrono::seconds(2)) {
      for (const auto& [tp, lag] : source.consumer->Lag()) {
        if (lag >= 0) {
          state.metrics->ConsumerLag(tp.topic, tp.partition).Set(static_cast<double>(lag));
        }
      }
      last_lag = now;
    }
  }
}

// Saves a file source's checkpoint; a failure is logged when its message changes.
void SaveCheckpoint(FileCheckpoint& checkpoint, std::string& last_error) {
  Status st = checkpoint.Save();
  if (st.ok()) {
    if (!last_error.empty()) spdlog::info("{}: the checkpoint is written again", checkpoint.path());
    last_error.clear();
  } else if (st.message() != last_error) {
    spdlog::error("{}", st.message());
    last_error = st.message();
  }
}

void FileLoop(RunState& state, FileFollower& follower, const FileSourceConfig& config,
              FileCheckpoint* checkpoint, DecoderOptions decoder_options, std::string label) {
  WorkerProcessor worker(state, decoder_options);
  Counter& messages = state.metrics->Messages(label);
  Counter& events = state.metrics->Events(label, FormatName(config.format));
  ProcessorOutput out;
  FileFollower::Line line;
  std::string checkpoint_error;
  auto last_save = Clock::now();
  while (!g_stop.load(std::memory_order_relaxed)) {
    // The checkpoint moves at most once a second, and when the file is idle.
    if (checkpoint != nullptr && Clock::now() - last_save >= kCheckpointInterval) {
      SaveCheckpoint(*checkpoint, checkpoint_error);
      last_save = Clock::now();
    }
    if (!follower.Next(line, kPollTimeout)) {
      if (checkpoint != nullptr) {
        SaveCheckpoint(*checkpoint, checkpoint_error);
        last_save = Clock::now();
      }
      if (follower.done()) {
        if (!follower.status().ok()) {
          // The file cannot be read any more: stop loudly, with its checkpoint saved above.
          spdlog::critical("file {}: {}", config.path.path, follower.status().message());
          StopFailed();
        }
        break;
      }
      continue;
    }
    auto completion = std::make_shared<Completion>();
    if (checkpoint != nullptr) {
      completion->tracker = &checkpoint->tracker();
      completion->ticket = checkpoint->Begin(line.next);
    }
    completion->source = SourcePosition{config.path.path, -1, static_cast<int64_t>(line.line)};
    out.Clear();
    Origin origin;
    origin.file = config.path.path;
    origin.line = line.line;
    origin.read_time_ms = WallClockMs();
    if (!line.error.empty()) {
      out.failures.push_back(FramingFailure(origin, config.format, line.error));
    } else {
      const auto start = Clock::now();
      worker.Get().Process(line.text, line.capacity, config.format, origin, out);
      state.metrics->EventProcessing().Observe(
          std::chrono::duration<double>(Clock::now() - start).count());
    }
    messages.Inc();
    events.Inc(static_cast<double>(out.events));
    state.counters.messages.fetch_add(1, std::memory_order_relaxed);
    state.counters.events.fetch_add(out.events, std::memory_order_relaxed);
    state.counters.alerts.fetch_add(out.alert_count, std::memory_order_relaxed);
    if (!out.warnings.empty()) ReportRepairs(state, out);
    DeliverAlerts(state, out, completion);
    DeadLetter(state, out, {}, line.text, {}, completion);
    completion->Release();
  }
}

// ---- start-up steps ----

// The exit status for a sink or source that cannot be created: 2 for a configuration the client
// library refuses (a bad property), 1 for anything the machine or the network refused.
int StartupFailure(const Status& status) {
  return status.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

// Returns kExitOk, or the exit status to stop with.
int CreateSinks(RunState& state) {
  auto on_error = [](bool fatal, const std::string& message) {
    if (fatal) {
      spdlog::critical("{}", message);
      StopFailed();
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
  if (state.config->dead_letter) {
    const DeadLetterConfig& dl = *state.config->dead_letter;
    Status status;
    if (auto* k = std::get_if<KafkaSinkConfig>(&dl)) {
      auto sink = CreateKafkaSink(*k, on_error);
      if (sink.ok()) state.dead_letter = std::move(sink.value());
      status = sink.status();
    } else {
      FileSinkOptions options;
      options.mode = FileSinkMode::kDeadLetter;
      options.on_error = file_error;
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
  }
  return kExitOk;
}

// chipwatch_alerts_total at 0 for every severity a rule of the policy can raise (its own, and
// those of its severity_from map): the first alert of a rule is then an increase.
void InitAlertMetrics(Metrics& metrics, const LoadedPolicy& policy) {
  for (const CompiledRule& rule : policy.rules->rules()) {
    metrics.Alerts(rule.id, SeverityName(rule.severity));
    for (const auto& [value, severity] : rule.severity_map) {
      metrics.Alerts(rule.id, SeverityName(severity));
    }
  }
}

// Series that alerting rules watch exist from the start (at 0), so that their first increase is
// visible to increase() and rate().
void InitMetrics(RunState& state) {
  for (int f = 0; f < kFormatCount; ++f) {
    const std::string_view format = FormatName(static_cast<Format>(f));
    for (int r = 0; r < kDecodeErrorReasonCount; ++r) {
      state.metrics->DecodeErrors(format, DecodeErrorReasonName(static_cast<DecodeErrorReason>(r)));
    }
    if (static_cast<Format>(f) == Format::kAuto) continue;  // repaired records have a format
    for (int w = 0; w < kDecodeWarningCount; ++w) {
      state.metrics->DecodeWarnings(format, DecodeWarningName(static_cast<DecodeWarning>(w)));
    }
  }
  InitAlertMetrics(*state.metrics, *state.snapshot.load()->policy);
  for (const auto& sink : state.sinks) {
    state.metrics->SinkErrors(sink->name());
    state.metrics->SinkPending(sink->name());
  }
  if (state.dead_letter) state.metrics->SinkErrors(state.dead_letter->name());
  state.metrics->RulesReload(true);
  state.metrics->RulesReload(false);
  state.metrics->DeadLetters();
}

// Returns kExitOk, or the exit status to stop with.
int CreateSources(RunState& state, DecoderOptions decoder_options) {
  int kafka_index = 0;
  for (const SourceConfig& sc : state.config->sources) {
    if (auto* k = std::get_if<KafkaSourceConfig>(&sc)) {
      auto source = std::make_unique<KafkaSourceState>();
      source->config = k;
      source->label = "kafka[" + std::to_string(kafka_index++) + "]";
      source->messages = &state.metrics->Messages(source->label);
      source->in_flight = &state.metrics->InFlight(source->label);
      source->paused = &state.metrics->ConsumerPaused(source->label);
      for (const KafkaTopicConfig& t : k->topics) {
        source->events_by_topic[t.topic] =
            &state.metrics->Events(source->label, FormatName(t.format));
      }
      KafkaSourceState* raw = source.get();
      Metrics* metrics = state.metrics.get();
      ConsumerCallbacks callbacks;
      callbacks.on_assigned = [raw](const std::vector<TopicPartition>& tps) {
        raw->assigned.store(true);
        for (const auto& tp : tps) {
          raw->tracker.Assign(tp);
          spdlog::info("{}: assigned {}[{}]", raw->label, tp.topic, tp.partition);
        }
      };
      callbacks.on_revoked = [raw, metrics](const std::vector<TopicPartition>& tps, bool lost) {
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
          metrics->RemoveConsumerLag(tp.topic, tp.partition);
          spdlog::info("{}: {} {}[{}]", raw->label, lost ? "lost" : "revoked", tp.topic,
                       tp.partition);
        }
      };
      callbacks.on_error = [raw](bool fatal, const std::string& message) {
        if (fatal) {
          spdlog::critical("{}: {}", raw->label, message);
          StopFailed();
        } else {
          spdlog::warn("{}: {}", raw->label, message);
        }
      };
      auto consumer = KafkaConsumer::Create(*k, std::move(callbacks));
      if (!consumer.ok()) {
        spdlog::error("{}: kafka source: {}", k->pos.ToString(), consumer.status().message());
        return StartupFailure(consumer.status());
      }
      source->consumer = std::move(consumer.value());
      state.kafka.push_back(std::move(source));
    } else {
      const auto& f = std::get<FileSourceConfig>(sc);
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
      auto follower = FileFollower::Open(f, decoder_options.max_record_bytes, follower_options);
      if (!follower.ok()) {
        spdlog::error("{}: file source {}: {}", f.pos.ToString(), f.path.path,
                      follower.status().message());
        return StartupFailure(follower.status());
      }
      state.followers.push_back(std::move(follower.value()));
      state.checkpoints.push_back(std::move(checkpoint));
    }
  }
  return kExitOk;
}

// Blocks the daemon's signals in every thread (call before any thread starts); a dedicated thread
// waits for them. SIGTERM/SIGINT stop, SIGHUP reloads.
std::thread StartSignalThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      if (sig == SIGHUP) {
        g_reload.store(true);
        continue;
      }
      if (g_stop.exchange(true)) {
        // A second stop signal while shutting down: the operator wants out now. Nothing is lost:
        // unacknowledged messages are simply consumed again after the restart.
        spdlog::warn("second stop signal: exiting without waiting");
        std::_Exit(kExitPartial);
      }
      // Logged by the main thread: this one may run before the logger is set up.
      g_stop_signal.store(sig);
    }
  });
}

void LogStopSignal() {
  const int sig = g_stop_signal.load();
  if (sig != 0) spdlog::info("{} received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

// Loads the policy and enrichment data a config names: the unit a reload replaces.
std::shared_ptr<const Snapshot> LoadSnapshot(const Config& config, uint64_t generation) {
  std::vector<std::string> rule_paths;
  for (const ConfigPath& p : config.rules) rule_paths.push_back(p.path);
  Diagnostics diags;
  auto policy = LoadPolicy(rule_paths, diags);
  for (const Diagnostic& d : diags.items()) {
    if (d.level == Diagnostic::Level::kError) spdlog::error("{}", d.ToString());
  }
  if (policy == nullptr) {
    spdlog::error("the rules have {} error(s)", diags.error_count());
    return nullptr;
  }
  EnrichOptions enrich;
  if (config.geoip) enrich.geoip = config.geoip->path;
  if (config.directory) enrich.directory = config.directory->path;
  // LoadEnrichment reports on a FILE*; capture it so the messages reach the log.
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* mem = open_memstream(&buf, &len);
  auto enrichment = mem ? LoadEnrichment(enrich, mem) : std::nullopt;
  if (mem) std::fclose(mem);
  if (buf != nullptr) {
    std::string_view text(buf, len);
    while (!text.empty()) {
      size_t nl = text.find('\n');
      spdlog::error("{}", text.substr(0, nl));
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
    std::free(buf);
  }
  if (!enrichment) return nullptr;
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->policy = std::move(policy);
  snapshot->enrichment = std::make_shared<const Enrichment>(std::move(*enrichment));
  snapshot->generation = generation;
  return snapshot;
}

// SIGHUP: re-read the config, rules and enrichment data; swap them in atomically, or keep the old
// ones. Sources, sinks and workers stay as they are (changing them needs a restart). File sinks are
// reopened, for log rotation.
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
    snapshot = LoadSnapshot(*config, state.snapshot.load()->generation + 1);
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
  InitAlertMetrics(*state.metrics, *snapshot->policy);
  const size_t rules = snapshot->policy->rules->rules().size();
  state.snapshot.store(std::move(snapshot));
  state.metrics->RulesReload(true).Inc();
  spdlog::info("reload done: {} rules in force, log level {}{}", rules,
               spdlog::level::to_string_view(spdlog::get_level()),
               state.log_level ? " (--log-level)" : "");
  sd_notify(0, "READY=1\nSTATUS=running");
}

// Ready: rules loaded and every source connected (a Kafka source has joined its group and been
// assigned its share, possibly none; a file source is open).
bool IsReady(const RunState& state) {
  for (const auto& k : state.kafka) {
    if (!k->assigned.load()) return false;
  }
  return state.snapshot.load() != nullptr;
}

// Healthy for the systemd watchdog: every poll thread has polled recently.
bool IsHealthy(const RunState& state) {
  const int64_t now = NowMs();
  for (const auto& k : state.kafka) {
    if (now - k->last_poll_ms.load() > 20000) return false;
  }
  return true;
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
  sd_notify(0, "STOPPING=1");
  state.metrics->Ready().Set(0);
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
  // File sources: the position after the last line whose alerts were all acknowledged.
  for (auto& checkpoint : state.checkpoints) {
    if (checkpoint == nullptr) continue;
    Status st = checkpoint->Save();
    if (!st.ok()) spdlog::error("final checkpoint: {}", st.message());
    if (checkpoint->in_flight() > 0) {
      spdlog::warn("{}: {} lines unacknowledged at shutdown; they will be read again after restart",
                   checkpoint->path(), checkpoint->in_flight());
    }
  }
  for (auto& k : state.kafka) {
    StoreCommittable(*k);
    Status st = k->consumer->CommitSync();
    if (!st.ok()) spdlog::warn("{}: final commit: {}", k->label, st.message());
    st = k->consumer->Close();
    if (!st.ok()) spdlog::warn("{}: close: {}", k->label, st.message());
  }
  state.metrics_server.reset();
  LogStatus(state);
  if (g_failed.load()) {
    spdlog::critical("stopped on a failure (see the errors above): exit status {}", kExitFailure);
    return kExitFailure;
  }
  spdlog::info("stopped{}", clean ? "" : " (shutdown timeout reached; see warnings above)");
  return kExitOk;
}

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

}  // namespace

int RunDaemon(const RunOptions& options) {
  // Signals are blocked before any other thread starts: the rule compiler's, librdkafka's and the
  // workers' threads all inherit the mask, so a stop signal during start-up (systemctl stop while
  // a large pack compiles) is handled by the signal thread, not by the default action.
  std::thread signals = StartSignalThread();
  signals.detach();
  RunState state;
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
  std::shared_ptr<const Snapshot> snapshot = LoadSnapshot(*state.config, 1);
  if (snapshot == nullptr) {
    spdlog::error("not starting");
    return kExitUsage;
  }
  if (g_stop.load()) {
    // Nothing was consumed yet, so there is nothing to finish or commit.
    LogStopSignal();
    spdlog::info("stopped during start-up");
    return kExitOk;
  }
  spdlog::info("policy: {} rules from {} files", snapshot->policy->rules->rules().size(),
               snapshot->policy->defs->files.size());
  state.metrics->RulesLoaded().Set(static_cast<double>(snapshot->policy->rules->rules().size()));
  state.snapshot.store(std::move(snapshot));

  if (int code = CreateSinks(state); code != kExitOk) return code;
  InitMetrics(state);
  DecoderOptions decoder_options;
  decoder_options.max_record_bytes = state.config->limits.max_record_bytes;
  if (int code = CreateSources(state, decoder_options); code != kExitOk) return code;

  if (state.config->metrics.enabled) {
    auto server = MetricsServer::Start(state.config->metrics, *state.metrics,
                                       [&state] { return IsReady(state); });
    if (!server.ok()) {
      spdlog::error("metrics: {}", server.status().message());
      return StartupFailure(server.status());
    }
    state.metrics_server = std::move(server.value());
    spdlog::info("metrics on http://{}/metrics (also /healthz, /readyz)",
                 state.config->metrics.listen);
  }

  state.work = std::make_unique<BoundedQueue<WorkItem>>(kPauseInFlight * 2);
  const int workers = std::max(1, state.config->workers);
  for (int i = 0; i < workers; ++i) {
    state.workers.emplace_back(WorkerLoop, std::ref(state), decoder_options);
  }
  for (auto& k : state.kafka) {
    k->last_poll_ms.store(NowMs());
    k->poller = std::thread(PollLoop, std::ref(state), std::ref(*k));
  }
  for (size_t i = 0, f = 0; i < state.config->sources.size(); ++i) {
    if (auto* fc = std::get_if<FileSourceConfig>(&state.config->sources[i])) {
      state.file_threads.emplace_back(FileLoop, std::ref(state), std::ref(*state.followers[f]),
                                      std::cref(*fc), state.checkpoints[f].get(), decoder_options,
                                      "file[" + std::to_string(f) + "]");
      ++f;
    }
  }
  spdlog::info("running: {} kafka source(s), {} file source(s), {} sink(s), {} worker(s)",
               state.kafka.size(), state.followers.size(), state.sinks.size(), workers);
  sd_notify(0, "READY=1\nSTATUS=running");

  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  auto last_status = Clock::now();
  auto last_watchdog = Clock::now();
  while (!g_stop.load()) {
    std::this_thread::sleep_for(milliseconds(100));
    if (g_reload.exchange(false)) Reload(state);
    state.metrics->Ready().Set(IsReady(state) ? 1 : 0);
    for (auto& sink : state.sinks) {
      state.metrics->SinkPending(sink->name()).Set(static_cast<double>(sink->pending()));
    }
    if (watchdog && Clock::now() - last_watchdog >= std::chrono::microseconds(watchdog_usec / 2)) {
      if (IsHealthy(state)) sd_notify(0, "WATCHDOG=1");
      last_watchdog = Clock::now();
    }
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
  LogStopSignal();
  return Shutdown(state, state.config->shutdown_timeout);
}

}  // namespace chipwatch
