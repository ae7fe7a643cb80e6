#include "engine/processor.h"

#include <algorithm>
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
  if (policy_->stateful != nullptr && !policy_->stateful->empty()) {
    stateful_ = policy_->stateful.get();
  }
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
  if (event.Has(FieldId::kEventTime)) {
    out_->max_time_ms = std::max(out_->max_time_ms, event.Num(FieldId::kEventTime));
  }
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
  const uint32_t first_ref = static_cast<uint32_t>(out_->refs.size());
  bool record = false;  // a match the stateful stage must see: suppressed, or feeding
  for (const RuleMatch& m : matches_) {
    if (stateful_ != nullptr) {
      const StatefulRule& s = stateful_->rule(stateful_->RuleIndex(*m.rule));
      record |= (s.alert && s.suppression >= 0) || !s.feeds.empty();
      if (!s.alert) continue;  // `alert: false`: feeds correlations only
    }
    AppendAlert(m, event, out_->refs.size() == first_ref ? &first_spans_ : nullptr);
  }
  if (record) RecordStateful(event, first_ref);
}

void EventProcessor::AppendAlert(const RuleMatch& m, const Event& event, AlertJsonSpans* spans) {
  std::string reason = RenderReason(*m.rule, event);
  AlertRef ref;
  ref.begin = out_->alerts.size();
  AppendAlertJson(out_->alerts, *m.rule, m.severity, event, reason, spans);
  ref.length = out_->alerts.size() - ref.begin;
  ref.key = event.Str(FieldId::kEventId);
  ref.rule = m.rule;
  ref.rule_id = m.rule->id;
  ref.severity = m.severity;
  ref.max_time_ms = out_->max_time_ms;
  if (alert_counters_) ref.alerts_total = &alert_counters_->For(*m.rule, m.severity);
  out_->refs.push_back(std::move(ref));
  out_->alerts += '\n';
  ++out_->alert_count;
}

namespace {

// The values of `fields`, encoded for a state key: per field 0x00 when unset, else 0x01, the
// length of its text as a varint and the text (so that no two value lists share an encoding).
void AppendKey(std::string& key, const Event& event, const std::vector<FieldId>& fields) {
  std::string text;
  for (FieldId f : fields) {
    if (!event.Has(f)) {
      key += '\0';
      continue;
    }
    text.clear();
    AppendFieldText(text, event, f);
    key += '\1';
    for (size_t n = text.size();; n >>= 7) {
      key += static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      if (n < 0x80) break;
    }
    key += text;
  }
}

// {"account":"1111","accelerator.family":null}: the alert's `group`.
void AppendGroupJson(std::string& out, const Event& event, const std::vector<FieldId>& fields,
                     const std::vector<std::string>& names) {
  out += '{';
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    AppendJsonEscaped(out, names[i]);
    out += "\":";
    AppendFieldJson(out, event, fields[i]);
  }
  out += '}';
}

// "account=1111, accelerator.family=H100" (unset: -).
void AppendGroupText(std::string& out, const Event& event, const std::vector<FieldId>& fields,
                     const std::vector<std::string>& names) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ", ";
    out += names[i];
    out += '=';
    if (event.Has(fields[i])) {
      AppendFieldText(out, event, fields[i]);
    } else {
      out += '-';
    }
  }
}

}  // namespace

void EventProcessor::RecordStateful(const Event& event, uint32_t first_ref) {
  StatefulRecord& r = out_->records.emplace_back();
  r.time_ms = event.Num(FieldId::kEventTime);
  r.max_time_ms = out_->max_time_ms;
  r.first_ref = first_ref;
  r.end_ref = static_cast<uint32_t>(out_->refs.size());
  r.event_id = event.Str(FieldId::kEventId);
  if (r.end_ref > r.first_ref) {  // the event alert holds the fragments: copied, not rendered
    const std::string& a = out_->alerts;
    const AlertJsonSpans& at = first_spans_;
    r.event.assign(a, at.event_begin, at.event_end - at.event_begin);
    r.matched.assign(a, at.matched_begin, at.matched_end - at.matched_begin);
    r.origin.assign(a, at.origin_begin, at.origin_end - at.origin_begin);
  } else {
    AppendEventFragment(r.event, event);
    AppendMatchedFragment(r.matched, event);
    AppendOriginFragment(r.origin, event.origin);
  }
  uint32_t ref = first_ref;
  for (const RuleMatch& m : matches_) {
    const StatefulRule& s = stateful_->rule(stateful_->RuleIndex(*m.rule));
    if (!s.alert) continue;
    if (s.suppression >= 0) {
      const SuppressionPlan& plan = stateful_->suppressions()[s.suppression];
      StatefulMatch& sm = r.suppressed.emplace_back();
      sm.suppression = static_cast<uint32_t>(s.suppression);
      sm.ref = ref;
      sm.severity = m.severity;
      AppendKey(sm.key, event, plan.by);
      AppendGroupJson(sm.group, event, plan.by, plan.by_names);
      AppendGroupText(sm.group_text, event, plan.by, plan.by_names);
    }
    ++ref;
  }
  AddOffers(event, r);
}

// One offer per correlation the event's matches feed (rule bits OR-ed), in policy order.
void EventProcessor::AddOffers(const Event& event, StatefulRecord& r) {
  feeds_.clear();
  for (const RuleMatch& m : matches_) {
    for (const auto& [c, bits] : stateful_->rule(stateful_->RuleIndex(*m.rule)).feeds) {
      auto it =
          std::find_if(feeds_.begin(), feeds_.end(), [c = c](auto& f) { return f.first == c; });
      if (it == feeds_.end()) {
        feeds_.emplace_back(c, bits);
      } else {
        it->second |= bits;
      }
    }
  }
  std::sort(feeds_.begin(), feeds_.end());
  for (const auto& [c, bits] : feeds_) {
    const CorrelationPlan& plan = stateful_->correlations()[c];
    bool complete = std::all_of(plan.group_ids.begin(), plan.group_ids.end(),
                                [&](FieldId f) { return event.Has(f); });
    if (plan.field_id != FieldId::kCount && !event.Has(plan.field_id)) complete = false;
    if (!complete) {
      r.missing.push_back(c);
      continue;
    }
    StatefulOffer& o = r.offers.emplace_back();
    o.correlation = c;
    o.rules = bits;
    AppendKey(o.key, event, plan.group_ids);
    AppendGroupJson(o.group, event, plan.group_ids, plan.group_names);
    if (plan.field_id != FieldId::kCount) AppendFieldText(o.value, event, plan.field_id);
    for (const ReasonPart& part : plan.reason) {
      if (part.count) {
        o.count_at.push_back(static_cast<uint32_t>(o.reason.size()));
      } else if (!part.field) {
        o.reason += part.literal;
      } else if (!event.Has(*part.field)) {
        o.reason += '-';
      } else {
        AppendFieldText(o.reason, event, *part.field);
      }
    }
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
