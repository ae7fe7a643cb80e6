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

void AppendOutcome(JsonWriter& w, const Event& e) {
  w.Key("outcome");
  JsonWriter o(w.out());
  o.Open();
  o.Field("result", e, FieldId::kOutcome);
  o.Field("error_code", e, FieldId::kErrorCode);
  o.Field("error_message", e, FieldId::kErrorMessage);
  o.Field("response_code", e, FieldId::kResponseCode);
  o.Close();
}

// Who acted: account, principal, source address (with GeoIP) and tenant (with the directory).
void AppendActor(JsonWriter& w, const Event& e) {
  w.Key("actor");
  JsonWriter a(w.out());
  a.Open();
  a.Field("account", e, FieldId::kAccount);
  a.Field("principal", e, FieldId::kPrincipal);
  a.Field("principal_type", e, FieldId::kPrincipalType);
  a.Field("source_ip", e, FieldId::kSourceIp);
  a.Field("country", e, FieldId::kSourceCountry);
  a.Field("country_tier", e, FieldId::kSourceTier);
  a.Field("user_agent", e, FieldId::kUserAgent);
  a.Field("tenant", e, FieldId::kTenant);
  a.Field("tenant_known", e, FieldId::kTenantKnown);
  a.Field("org", e, FieldId::kTenantOrg);
  a.Field("kyc_country", e, FieldId::kTenantCountry);
  a.Field("kyc_status", e, FieldId::kTenantKyc);
  a.Field("parent_org", e, FieldId::kTenantParentOrg);
  a.Field("parent_country", e, FieldId::kTenantParentCountry);
  a.Field("parent_tier", e, FieldId::kTenantParentTier);
  a.Close();
}

// What was acted on: provider, region, instance and accelerator, model, cluster and job.
void AppendResource(JsonWriter& w, const Event& e) {
  w.Key("resource");
  JsonWriter r(w.out());
  r.Open();
  r.Field("provider", e, FieldId::kProvider);
  r.Field("service", e, FieldId::kEventSource);
  r.Field("region", e, FieldId::kRegion);
  r.Field("region_country", e, FieldId::kRegionCountry);
  r.Field("region_tier", e, FieldId::kRegionTier);
  r.Field("instance_type", e, FieldId::kInstanceType);
  r.Field("instance_types", e, FieldId::kInstanceTypes);
  r.Field("accelerator_model", e, FieldId::kAcceleratorModel);
  r.Field("accelerator_family", e, FieldId::kAcceleratorFamily);
  r.Field("accelerator_count", e, FieldId::kAcceleratorCount);
  r.Field("model_id", e, FieldId::kModelId);
  r.Field("inference_region", e, FieldId::kInferenceRegion);
  r.Field("name", e, FieldId::kResourceName);
  r.Field("cluster", e, FieldId::kCluster);
  r.Field("node", e, FieldId::kNode);
  r.Field("job_id", e, FieldId::kJobId);
  r.Field("quota_code", e, FieldId::kQuotaCode);
  r.Close();
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

void AppendTags(JsonWriter& w, const CompiledRule& rule) {
  w.Key("tags");
  std::string& out = w.out();
  out += '[';
  for (size_t i = 0; i < rule.tags.size(); ++i) {
    if (i > 0) out += ',';
    w.Quoted(rule.tags[i]);
  }
  out += ']';
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

}  // namespace

void AppendAlertJson(std::string& out, const CompiledRule& rule, Severity severity, const Event& e,
                     std::string_view reason) {
  JsonWriter w(out);
  w.Open();
  w.String("schema", kAlertSchema);
  w.String("rule_id", rule.id);
  w.String("title", rule.title);
  w.String("severity", SeverityName(severity));
  AppendEventHead(w, e);
  AppendOutcome(w, e);
  AppendActor(w, e);
  AppendResource(w, e);
  w.String("reason", reason);
  AppendMatched(w, e);
  AppendTags(w, rule);
  AppendOrigin(w, e.origin);
  w.Close();
}

}  // namespace chipwatch
