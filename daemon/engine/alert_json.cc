#include "engine/alert_json.h"

#include "core/diagnostics.h"
#include "decode/decoder.h"
#include "policy/definitions.h"

namespace chipwatch {

namespace {

// Writes `"key":` then the value; string values are escaped, unset fields are null.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void Open() {
    out_ += '{';
    first_ = true;
  }
  void Close() {
    out_ += '}';
    first_ = false;
  }
  void Key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += key;
    out_ += "\":";
  }
  void String(std::string_view key, std::string_view value) {
    Key(key);
    Quoted(value);
  }
  void Quoted(std::string_view value) {
    out_ += '"';
    AppendJsonEscaped(out_, value);
    out_ += '"';
  }
  void Field(std::string_view key, const Event& e, FieldId f) {
    Key(key);
    Value(e, f);
  }
  void Value(const Event& e, FieldId f) {
    if (!e.Has(f)) {
      out_ += "null";
      return;
    }
    switch (TypeOf(f)) {
      case FieldType::kNumber:
        out_ += std::to_string(e.Num(f));
        break;
      case FieldType::kBool:
        out_ += e.Num(f) != 0 ? "true" : "false";
        break;
      default:
        Quoted(e.Str(f));
    }
  }
  void Number(std::string_view key, int64_t v) {
    Key(key);
    out_ += std::to_string(v);
  }
  std::string& out() { return out_; }

 private:
  std::string& out_;
  bool first_ = true;
};

void AppendEntry(JsonWriter& w, bool& first, const CatalogEntry* entry) {
  if (entry == nullptr) return;
  std::string& out = w.out();
  if (!first) out += ',';
  first = false;
  JsonWriter inner(out);
  inner.Open();
  inner.String("catalog", entry->catalog);
  inner.String("name", entry->name);
  if (const std::string* c = entry->Attr("classification")) inner.String("classification", *c);
  if (const std::string* t = entry->Attr("tier")) inner.String("tier", *t);
  inner.String("source", entry->source);
  inner.Close();
}

// The event's identity: id, time (and its source when it was read), format and action.
void AppendEventHead(JsonWriter& w, const Event& e) {
  w.Field("event_id", e, FieldId::kEventId);
  w.Key("event_time");
  if (e.Has(FieldId::kEventTime)) {
    w.Quoted(e.str[static_cast<size_t>(FieldId::kEventTime)]);
  } else {
    w.out() += "null";
  }
  // Only when the record had no usable time: event_time is then when the record was read.
  if (HasRepair(e.repairs, DecodeWarning::kMissingTime) ||
      HasRepair(e.repairs, DecodeWarning::kInvalidTime)) {
    w.String("time_source", "read");
  }
  w.String("format", FormatName(e.format));
  w.Field("action", e, FieldId::kAction);
}

// One key of an alert section and the event field it shows (null when unset).
struct AlertField {
  std::string_view key;
  FieldId field;
};

// How it ended: the result, error and response code.
constexpr AlertField kOutcomeFields[] = {
    {"result", FieldId::kOutcome},
    {"error_code", FieldId::kErrorCode},
    {"error_message", FieldId::kErrorMessage},
    {"response_code", FieldId::kResponseCode},
};

// Who acted: account, principal, source address (with GeoIP) and tenant (with the directory).
constexpr AlertField kActorFields[] = {
    {"account", FieldId::kAccount},
    {"principal", FieldId::kPrincipal},
    {"principal_type", FieldId::kPrincipalType},
    {"source_ip", FieldId::kSourceIp},
    {"country", FieldId::kSourceCountry},
    {"country_tier", FieldId::kSourceTier},
    {"user_agent", FieldId::kUserAgent},
    {"tenant", FieldId::kTenant},
    {"tenant_known", FieldId::kTenantKnown},
    {"org", FieldId::kTenantOrg},
    {"kyc_country", FieldId::kTenantCountry},
    {"kyc_status", FieldId::kTenantKyc},
    {"parent_org", FieldId::kTenantParentOrg},
    {"parent_country", FieldId::kTenantParentCountry},
    {"parent_tier", FieldId::kTenantParentTier},
};

// What was acted on: provider, region, instance and accelerator, model, cluster and job.
constexpr AlertField kResourceFields[] = {
    {"provider", FieldId::kProvider},
    {"service", FieldId::kEventSource},
    {"region", FieldId::kRegion},
    {"region_country", FieldId::kRegionCountry},
    {"region_tier", FieldId::kRegionTier},
    {"instance_type", FieldId::kInstanceType},
    {"instance_types", FieldId::kInstanceTypes},
    {"accelerator_model", FieldId::kAcceleratorModel},
    {"accelerator_family", FieldId::kAcceleratorFamily},
    {"accelerator_count", FieldId::kAcceleratorCount},
    {"model_id", FieldId::kModelId},
    {"inference_region", FieldId::kInferenceRegion},
    {"name", FieldId::kResourceName},
    {"cluster", FieldId::kCluster},
    {"node", FieldId::kNode},
    {"job_id", FieldId::kJobId},
    {"quota_code", FieldId::kQuotaCode},
};

// A section: {"key": field, ...} in the table's order.
template <size_t N>
void AppendSection(JsonWriter& w, std::string_view name, const Event& e,
                   const AlertField (&fields)[N]) {
  w.Key(name);
  JsonWriter section(w.out());
  section.Open();
  for (const AlertField& f : fields) section.Field(f.key, e, f.field);
  section.Close();
}

// The catalog entries the enrichment matched, in a fixed order.
void AppendMatched(JsonWriter& w, const Event& e) {
  w.Key("matched");
  w.out() += '[';
  bool first = true;
  AppendEntry(w, first, e.instance_entry);
  AppendEntry(w, first, e.accelerator_entry);
  AppendEntry(w, first, e.source_dest_entry);
  AppendEntry(w, first, e.region_entry);
  AppendEntry(w, first, e.region_dest_entry);
  AppendEntry(w, first, e.tenant_dest_entry);
  AppendEntry(w, first, e.parent_dest_entry);
  AppendEntry(w, first, e.model_entry);
  AppendEntry(w, first, e.vendor_entry);
  w.out() += ']';
}

void AppendStringArray(JsonWriter& w, std::string_view key, const std::vector<std::string>& items) {
  w.Key(key);
  std::string& out = w.out();
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    w.Quoted(items[i]);
  }
  out += ']';
}

void AppendTags(JsonWriter& w, const CompiledRule& rule) {
  AppendStringArray(w, "tags", rule.tags);
}

// Where the record came from: a Kafka topic, partition and offset, or a file and line.
void AppendOrigin(JsonWriter& w, const Origin& origin) {
  w.Key("origin");
  JsonWriter o(w.out());
  o.Open();
  if (origin.partition >= 0) {
    o.String("topic", origin.file);
    o.Number("partition", origin.partition);
    o.Number("offset", origin.offset);
  } else {
    o.String("file", origin.file);
    o.Number("line", static_cast<int64_t>(origin.line));
  }
  o.Number("index", origin.index);
  o.Close();
}

// The event's head and its outcome, actor and resource sections.
void AppendEventSections(JsonWriter& w, const Event& e) {
  AppendEventHead(w, e);
  AppendSection(w, "outcome", e, kOutcomeFields);
  AppendSection(w, "actor", e, kActorFields);
  AppendSection(w, "resource", e, kResourceFields);
}

// A fragment written by another JsonWriter: appended after a comma.
void AppendRaw(JsonWriter& w, std::string_view fragment) {
  if (fragment.empty()) return;
  w.out() += ',';
  w.out() += fragment;
}

}  // namespace

std::string_view AlertKindName(AlertKind kind) {
  switch (kind) {
    case AlertKind::kEvent:
      return "event";
    case AlertKind::kCorrelation:
      return "correlation";
    case AlertKind::kSummary:
      return "summary";
  }
  return "event";
}

void AppendAlertJson(std::string& out, const CompiledRule& rule, Severity severity, const Event& e,
                     std::string_view reason, AlertJsonSpans* spans) {
  AlertJsonSpans at;
  JsonWriter w(out);
  w.Open();
  w.String("schema", kAlertSchema);
  w.String("kind", AlertKindName(AlertKind::kEvent));
  w.String("rule_id", rule.id);
  w.String("title", rule.title);
  w.String("severity", SeverityName(severity));
  at.event_begin = out.size() + 1;  // after the comma
  AppendEventSections(w, e);
  at.event_end = out.size();
  w.String("reason", reason);
  at.matched_begin = out.size() + 1;
  AppendMatched(w, e);
  at.matched_end = out.size();
  AppendTags(w, rule);
  at.origin_begin = out.size() + 1;
  AppendOrigin(w, e.origin);
  at.origin_end = out.size();
  w.Close();
  if (spans != nullptr) *spans = at;
}

void AppendEventFragment(std::string& out, const Event& e) {
  JsonWriter w(out);
  AppendEventSections(w, e);
}

void AppendMatchedFragment(std::string& out, const Event& e) {
  JsonWriter w(out);
  AppendMatched(w, e);
}

void AppendOriginFragment(std::string& out, const Origin& origin) {
  JsonWriter w(out);
  AppendOrigin(w, origin);
}

void AppendFieldJson(std::string& out, const Event& e, FieldId field) {
  JsonWriter(out).Value(e, field);
}

void AppendStatefulAlertJson(std::string& out, const StatefulAlertJson& a) {
  JsonWriter w(out);
  w.Open();
  w.String("schema", kAlertSchema);
  w.String("kind", AlertKindName(a.kind));
  w.String("rule_id", a.rule_id);
  w.String("title", a.title);
  w.String("severity", SeverityName(a.severity));
  AppendRaw(w, a.event);
  w.String("reason", a.reason);
  w.Key("group");
  out += a.group.empty() ? std::string_view("{}") : a.group;
  w.Key("count");
  out += std::to_string(a.count);
  TimestampBuffer time;
  w.String("first_seen", FormatTimestampMs(a.first_seen_ms, time));
  w.String("last_seen", FormatTimestampMs(a.last_seen_ms, time));
  static const std::vector<std::string> kNone;
  AppendStringArray(w, "events", a.events != nullptr ? *a.events : kNone);
  if (a.values != nullptr) AppendStringArray(w, "values", *a.values);
  AppendRaw(w, a.matched);
  AppendStringArray(w, "tags", a.tags != nullptr ? *a.tags : kNone);
  AppendRaw(w, a.origin);
  w.Close();
}

}  // namespace chipwatch
