#include "pipeline/worker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

#include "metrics/metrics.h"
#include "pipeline/stateful_lane.h"

namespace chipwatch {

void RepairLog::Report(Metrics& metrics, const ProcessorOutput& out) {
  for (const DecodeRepairNote& w : out.warnings) {
    metrics.DecodeWarnings(FormatName(w.format), DecodeWarningName(w.reason)).Inc();
    std::string where(w.origin.file);
    if (w.origin.partition >= 0) where += "[" + std::to_string(w.origin.partition) + "]";
    {
      std::lock_guard lock(mu_);
      if (!logged_.emplace(where, w.reason).second) continue;
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

Worker::Worker(const StageContext& context, DecoderOptions options)
    : context_(context), options_(options), processor_(*context.snapshots, options) {}

void Worker::Handle(WorkItem& item) {
  if (item.message == nullptr) {
    item.lane->Mark(item.seq, item.mark);
    return;
  }
  KafkaMessage& msg = *item.message;
  topic_.assign(msg.topic());
  WorkerInput input;
  input.completion = std::make_shared<Completion>();
  input.completion->tracker = item.tracker;
  input.completion->ticket = item.ticket;
  input.completion->source = SourcePosition{topic_, msg.partition(), msg.offset()};
  input.origin.file = topic_;
  input.origin.partition = msg.partition();
  input.origin.offset = msg.offset();
  input.origin.read_time_ms = msg.timestamp_ms() > 0 ? msg.timestamp_ms() : WallClockMs();
  input.text = msg.payload();
  input.capacity = input.text.size();
  input.several_lines = HasSeveralLines(input.text);
  input.format = item.format;
  input.key = msg.key();
  input.message = &msg;
  input.messages = item.messages;
  input.events = item.events;
  input.snapshot = std::move(item.snapshot);
  input.lane = std::move(item.lane);
  input.seq = item.seq;
  Handle(input);
}

void Worker::Handle(WorkerInput& input) {
  out_.Clear();
  if (!input.framing_error.empty()) {
    out_.failures.push_back(
        FramingFailure(input.origin, input.format, std::string(input.framing_error)));
  } else {
    // A reload lands here, between two inputs.
    EventProcessor& processor =
        input.snapshot != nullptr ? processor_.Get(input.snapshot) : processor_.Get();
    const auto start = context_.clock->Now();
    if (input.several_lines) {
      ProcessLines(processor, input.text, input.format, input.origin, options_, padded_, out_);
    } else {
      processor.Process(input.text, input.capacity, input.format, input.origin, out_);
    }
    context_.metrics->EventProcessing().Observe(
        std::chrono::duration<double>(context_.clock->Now() - start).count());
  }
  Count(input);
  if (!out_.warnings.empty()) context_.repairs->Report(*context_.metrics, out_);
  if (input.lane != nullptr) {
    // The stateful stage decides which alerts go out, in input order; dead letters go now.
    DeadLetter(input);
    input.lane->Submit(input.seq, std::move(input.snapshot), out_, std::move(input.completion));
    return;  // the lane releases the guard
  }
  context_.delivery->DeliverAlerts(out_, input.completion);
  DeadLetter(input);
  input.completion->Release();  // the worker's guard
}

void Worker::DeadLetter(const WorkerInput& input) {
  if (out_.failures.empty()) return;
  std::vector<SinkHeader> headers;
  if (input.message != nullptr) {
    for (auto& [name, value] : input.message->headers()) headers.push_back({name, value});
  }
  context_.delivery->DeadLetter(out_, input.key, input.text, std::move(headers), input.completion);
}

void Worker::Count(const WorkerInput& input) {
  if (input.messages != nullptr) input.messages->Inc();
  if (input.events != nullptr) input.events->Inc(static_cast<double>(out_.events));
  Counters& counters = *context_.counters;
  counters.messages.fetch_add(1, std::memory_order_relaxed);
  counters.events.fetch_add(out_.events, std::memory_order_relaxed);
  // Through a lane, the alerts are counted after the stateful stage.
  if (input.lane == nullptr) counters.alerts.fetch_add(out_.alert_count, std::memory_order_relaxed);
}

void RunWorker(const StageContext& context, WorkQueue& queue, DecoderOptions options) {
  Worker worker(context, options);
  while (auto item = queue.Pop()) worker.Handle(*item);
}

}  // namespace chipwatch
