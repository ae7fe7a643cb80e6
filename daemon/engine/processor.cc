#include "engine/processor.h"

#include <charconv>

#include "engine/alert_json.h"
#include "engine/input_reader.h"

namespace chipwatch {

EventProcessor::EventProcessor(std::shared_ptr<const LoadedPolicy> policy,
                               const ExternalEnricher* external, DecoderOptions options)
    : policy_(std::move(policy)),
      external_(external),
      decoder_(options),
      catalog_scratch_(policy_->catalogs->NewScratch()),
      match_scratch_(policy_->rules->NewScratch()) {
  matches_.reserve(16);
}

EventProcessor::~EventProcessor() = default;

void EventProcessor::Process(std::string_view text, size_t capacity, Format format,
                             const Origin& origin, ProcessorOutput& out) {
  out_ = &out;
  decoder_.DecodeDocument(text, capacity, format, origin, *this);
  out_ = nullptr;
}

void EventProcessor::OnEvent(Event& event) {
  ++out_->events;
  if (event.repairs != 0) {
    for (int w = 0; w < kDecodeWarningCount; ++w) {
      if (HasRepair(event.repairs, static_cast<DecodeWarning>(w))) {
        out_->warnings.push_back(
            DecodeRepairNote{event.origin, event.format, static_cast<DecodeWarning>(w)});
      }
    }
  }
  // Most events have an action no rule looks at: they need neither enrichment nor evaluation.
  // Rule tests (observer, overrides) see every event fully enriched.
  if (!observer_ && overrides_.empty() && !policy_->rules->MayMatch(event, *match_scratch_)) {
    return;
  }
  arena_.Reset();
  if (external_ != nullptr) external_->Enrich(event);
  if (!overrides_.empty()) ApplyOverrides(event);
  policy_->catalogs->Enrich(event, *catalog_scratch_, arena_);
  matches_.clear();
  policy_->rules->Evaluate(event, *match_scratch_, matches_);
  if (observer_) observer_(event, matches_);
  for (const RuleMatch& m : matches_) {
    std::string reason = RenderReason(*m.rule, event);
    AlertRef ref;
    ref.begin = out_->alerts.size();
    AppendAlertJson(out_->alerts, *m.rule, m.severity, event, reason);
    ref.length = out_->alerts.size() - ref.begin;
    ref.key = event.Str(FieldId::kEventId);
    ref.rule = m.rule;
    ref.severity = m.severity;
    if (alert_counters_) ref.alerts_total = &alert_counters_->For(*m.rule, m.severity);
    out_->refs.push_back(std::move(ref));
    out_->alerts += '\n';
    ++out_->alert_count;
  }
}

void EventProcessor::OnError(const Origin& origin, Format format, DecodeErrorReason reason,
                             std::string_view message) {
  out_->failures.push_back(DecodeFailure{origin, format, reason, std::string(message)});
}

void EventProcessor::ApplyOverrides(Event& event) {
  for (const FieldOverride& o : overrides_) SetFieldFromText(event, o.field, o.value, arena_);
}

bool SetFieldFromText(Event& event, FieldId field, std::string_view text, Arena& arena) {
  switch (TypeOf(field)) {
    case FieldType::kBool:
      if (text == "true") {
        event.SetBool(field, true);
      } else if (text == "false") {
        event.SetBool(field, false);
      } else {
        return false;
      }
      return true;
    case FieldType::kNumber: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size()) return false;
      event.SetNum(field, v);
      return true;
    }
    case FieldType::kIp: {
      IpAddress ip = ParseIp(text);
      event.SetStr(field, arena.Copy(text));
      if (field == FieldId::kSourceIp) event.source_addr = ip;
      return ip.valid;
    }
    case FieldType::kString:
      event.SetStr(field, arena.Copy(text));
      return true;
  }
  return false;
}

bool HasSeveralLines(std::string_view payload) {
  const size_t nl = payload.find('\n');
  if (nl == std::string_view::npos) return false;
  return payload.find_first_not_of(" \t\r\n", nl) != std::string_view::npos;
}

void ProcessLines(EventProcessor& processor, std::string_view payload, Format format,
                  const Origin& origin, const DecoderOptions& options, std::string& padded,
                  ProcessorOutput& out) {
  padded.assign(payload);
  padded.append(kInputPadding, '\0');
  InputReader framer(padded.data(), payload.size(), padded.size(), 1, options.max_document_bytes,
                     false);
  InputDocument doc;
  Origin record = origin;
  for (uint32_t index = 0; framer.Next(doc); ++index) {
    record.index = index;
    if (!doc.error.empty()) {
      out.failures.push_back(FramingFailure(record, format, doc.error));
      continue;
    }
    processor.Process(doc.text, doc.capacity, format, record, out);
  }
}

std::string DescribeDecodeFailure(const DecodeFailure& f) {
  std::string out(f.origin.file);
  out += ':';
  if (f.origin.partition >= 0) {
    out += std::to_string(f.origin.partition) + "@" + std::to_string(f.origin.offset);
  } else {
    out += std::to_string(f.origin.line);
  }
  if (f.origin.index > 0) out += " (record " + std::to_string(f.origin.index) + ")";
  out += ": cannot decode ";
  out += FormatName(f.format);
  out += " record: ";
  out += DecodeErrorReasonName(f.reason);
  out += ": ";
  out += f.message;
  return out;
}

}  // namespace chipwatch
