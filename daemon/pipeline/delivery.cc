#include "pipeline/delivery.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "metrics/metrics.h"

namespace chipwatch {

std::string SourcePosition::ToString() const {
  return partition >= 0 ? name + "[" + std::to_string(partition) + "]@" + std::to_string(position)
                        : name + ":" + std::to_string(position);
}

void SourcePosition::AppendHeaders(std::vector<SinkHeader>& headers) const {
  if (partition >= 0) {
    headers.push_back({"chipwatch.source.topic", name});
    headers.push_back({"chipwatch.source.partition", std::to_string(partition)});
    headers.push_back({"chipwatch.source.offset", std::to_string(position)});
  } else {
    headers.push_back({"chipwatch.source.file", name});
    headers.push_back({"chipwatch.source.line", std::to_string(position)});
  }
}

void Completion::Release() {
  if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1 && tracker != nullptr) {
    if (failed.load(std::memory_order_acquire)) {
      tracker->Fail(ticket);
    } else {
      tracker->Done(ticket);
    }
  }
}

Delivery::Delivery(std::vector<Sink*> sinks, Sink* dead_letter, Metrics& metrics,
                   Counters& counters, RunControl& control, const Clock& clock)
    : sinks_(std::move(sinks)),
      dead_letter_(dead_letter),
      metrics_(metrics),
      counters_(counters),
      control_(control),
      clock_(clock) {}

// A sink did not deliver a record of the message `completion` tracks. The message is never
// committed past unless the record is rescued: an alert refused for good goes to the dead-letter
// destination, whose acknowledgement then stands for the refused one. Anything else (no dead
// letter, the dead letter itself refusing, a closed sink) marks the message failed; a refusal
// also stops the daemon with exit status 1.
void Delivery::OnNotDelivered(const Sink& sink, const Status& error, SinkRecord* refused,
                              const std::shared_ptr<Completion>& completion) {
  if (error.code() == Status::Code::kCancelled) {
    // Shutdown: the message is consumed again after the restart.
    spdlog::debug("{}: {}", completion->source.ToString(), error.message());
    completion->failed.store(true, std::memory_order_release);
    return;
  }
  counters_.sink_errors.fetch_add(1, std::memory_order_relaxed);
  metrics_.SinkErrors(sink.name()).Inc();
  if (refused != nullptr && dead_letter_ != nullptr) {
    spdlog::error("sink {} refused an alert of {}: {}; sending it to the dead letter {}",
                  sink.name(), completion->source.ToString(), error.message(),
                  dead_letter_->name());
    refused->headers.push_back({"chipwatch.reason", "sink_rejected"});
    refused->headers.push_back({"chipwatch.sink", sink.name()});
    refused->headers.push_back({"chipwatch.error", error.message()});
    completion->source.AppendHeaders(refused->headers);
    counters_.dead_letters.fetch_add(1, std::memory_order_relaxed);
    metrics_.DeadLetters().Inc();
    DeliverTo(*dead_letter_, std::move(*refused), completion);
    return;
  }
  completion->failed.store(true, std::memory_order_release);
  const bool first = !control_.failed.exchange(true);
  control_.stop.store(true);
  if (!first) {  // the daemon is already stopping: one critical line is enough
    spdlog::error("sink {} also refused a record of {}: {}", sink.name(),
                  completion->source.ToString(), error.message());
    return;
  }
  spdlog::critical(
      "sink {} refused a record of {} for good: {}; {}. Stopping without committing {} (exit "
      "status 1): fix the destination, and the restarted daemon delivers it again",
      sink.name(), completion->source.ToString(), error.message(),
      &sink == dead_letter_ ? "the dead letter cannot take it either"
                            : "no dead_letter is configured to take it",
      completion->source.ToString());
}

// Hands a record to a sink; the completion is released when the sink acknowledges it, or when a
// record it refused is rescued (OnNotDelivered).
void Delivery::DeliverTo(Sink& sink, SinkRecord record,
                         const std::shared_ptr<Completion>& completion) {
  completion->remaining.fetch_add(1, std::memory_order_relaxed);
  const auto start = clock_.Now();
  // An alert refused for good can be rescued by the dead letter: keep a copy for it (alerts are
  // rare next to events; dead letters themselves have nowhere further to go).
  std::shared_ptr<SinkRecord> copy;
  if (dead_letter_ != nullptr && &sink != dead_letter_) {
    copy = std::make_shared<SinkRecord>(SinkRecord{record.key, record.value, {}});
  }
  auto done = [this, &sink, completion, start, copy](const Status& s) {
    if (s.ok()) {
      metrics_.AlertDelivery().Observe(std::chrono::duration<double>(clock_.Now() - start).count());
    } else {
      OnNotDelivered(sink, s, copy.get(), completion);
    }
    completion->Release();
  };
  Status st = sink.Deliver(std::move(record), done);
  if (!st.ok()) {  // closed: only during shutdown
    done(st);
  }
}

void Delivery::DeliverAlerts(const ProcessorOutput& out,
                             const std::shared_ptr<Completion>& completion) {
  for (const AlertRef& ref : out.refs) {
    // The snapshot's pre-resolved counter; the keyed lookup only without one (tests).
    if (ref.alerts_total != nullptr) {
      ref.alerts_total->Inc();
    } else {
      metrics_.Alerts(ref.rule_id, SeverityName(ref.severity)).Inc();
    }
    for (Sink* sink : sinks_) {
      SinkRecord record;
      record.key = ref.key;
      record.value = std::string(out.AlertJson(ref));
      DeliverTo(*sink, std::move(record), completion);
    }
  }
}

void Delivery::LogDecodeFailures(const ProcessorOutput& out) {
  counters_.decode_failures.fetch_add(out.failures.size(), std::memory_order_relaxed);
  for (const DecodeFailure& f : out.failures) {
    metrics_.DecodeErrors(FormatName(f.format), DecodeErrorReasonName(f.reason)).Inc();
    spdlog::warn("{}", DescribeDecodeFailure(f));
  }
}

void Delivery::DeadLetter(const ProcessorOutput& out, std::string_view original_key,
                          std::string_view original, std::vector<SinkHeader> headers,
                          const std::shared_ptr<Completion>& completion) {
  if (out.failures.empty()) return;
  LogDecodeFailures(out);
  if (dead_letter_ == nullptr) return;
  const DecodeFailure& first = out.failures.front();
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
  counters_.dead_letters.fetch_add(1, std::memory_order_relaxed);
  metrics_.DeadLetters().Inc();
  DeliverTo(*dead_letter_, std::move(record), completion);
}

}  // namespace chipwatch
