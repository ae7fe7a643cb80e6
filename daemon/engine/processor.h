// EventProcessor: one worker's pipeline from document bytes to alert lines.
//
//   decode (simdjson) -> external enrichment (GeoIP, directory) -> [stand-ins, for rule tests]
//   -> catalog enrichment -> rule evaluation -> alert JSON
//
// Owns everything a worker needs per event (decoder, arena, Hyperscan scratch, match buffer), so
// the steady state allocates nothing but the output. The policy is an immutable shared snapshot.
// Not thread-safe: one processor per worker thread.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "decode/decoder.h"
#include "engine/alert_counters.h"
#include "engine/alert_json.h"
#include "engine/policy.h"
#include "enrich/enricher.h"

namespace chipwatch {

struct DecodeFailure {
  Origin origin;  // origin.file points at a string that outlives the output
  Format format = Format::kAuto;
  DecodeErrorReason reason = DecodeErrorReason::kInvalidJson;
  std::string message;
};
// "FILE:LINE (record N): cannot decode FORMAT record: REASON: MESSAGE" (a Kafka message's
// position as PARTITION@OFFSET): how replay and the daemon report an undecodable record.
std::string DescribeDecodeFailure(const DecodeFailure& failure);

// A record evaluated after a repair (lenient decoding: an id derived from its bytes, its read
// time standing in for its event time).
struct DecodeRepairNote {
  Origin origin;  // origin.file points at a string that outlives the output
  Format format = Format::kAuto;
  DecodeWarning reason = DecodeWarning::kMissingId;
};

// A record that could not even be framed (over the size limit): a too_large failure at `origin`.
inline DecodeFailure FramingFailure(const Origin& origin, Format format, std::string message) {
  return DecodeFailure{origin, format, DecodeErrorReason::kTooLarge, std::move(message)};
}

// One alert inside ProcessorOutput::alerts.
struct AlertRef {
  size_t begin = 0;   // offset of the JSON in `alerts`
  size_t length = 0;  // without the newline
  std::string key;    // the event id: sinks key alerts by it, so duplicates are recognisable
  // The rule whose match raised it (event), or whose repeats it sums up (summary); null for a
  // correlation alert.
  const CompiledRule* rule = nullptr;
  AlertKind kind = AlertKind::kEvent;
  std::string_view rule_id;  // the rule's or correlation's id (the policy keeps it alive)
  Severity severity = Severity::kInfo;
  // The greatest event time of its output when it was raised, its event's included: the stateful
  // stage closes the suppression windows it ends before writing it.
  int64_t max_time_ms = std::numeric_limits<int64_t>::min();
  // chipwatch_alerts_total{rule_id,severity} for this alert, when the processor was given the
  // policy's AlertCounters (the daemon); null otherwise.
  Counter* alerts_total = nullptr;
};

// A match of a suppressed rule, for the stateful stage (engine/stateful.h).
struct StatefulMatch {
  uint32_t suppression = 0;  // index into StatefulPolicy::suppressions()
  uint32_t ref = 0;          // its event alert: index into ProcessorOutput::refs
  Severity severity = Severity::kInfo;
  std::string key;         // the values of `by`, encoded (an unset field differs from "")
  std::string group;       // {"<by field>":value-or-null, ...}
  std::string group_text;  // "account=1111, accelerator.family=H100" (unset: -), for the reason
};

// An event's offer to one correlation (once per event, whatever number of its rules matched).
struct StatefulOffer {
  uint32_t correlation = 0;        // index into StatefulPolicy::correlations()
  uint32_t rules = 0;              // temporal: bit i when listed rule i matched
  std::string key;                 // the group_by values, encoded
  std::string group;               // {"<group_by field>":value, ...}
  std::string value;               // value_count: the counted field's value
  std::string reason;              // rendered from the event, without the {count}s...
  std::vector<uint32_t> count_at;  // ...which go at these offsets of `reason` (ascending)
};

// An event with at least one match of a suppressed rule or of a rule feeding a correlation: what
// the stage needs, rendered while the Event was alive.
struct StatefulRecord {
  int64_t time_ms = 0;      // its event time
  int64_t max_time_ms = 0;  // the greatest event time of its output, itself included
  uint32_t first_ref = 0;   // its event alerts: refs [first_ref, end_ref)
  uint32_t end_ref = 0;
  std::string event_id;
  std::string event;                      // AppendEventFragment
  std::string matched;                    // AppendMatchedFragment
  std::string origin;                     // AppendOriginFragment
  std::vector<StatefulMatch> suppressed;  // matches of suppressed rules, in rule order
  std::vector<StatefulOffer> offers;      // in correlation (policy) order
  std::vector<uint32_t> missing;          // correlations it would feed but for a group field
};

// What processing a batch of documents produced.
struct ProcessorOutput {
  std::string alerts;                      // JSON lines, each ending in '\n'
  std::vector<AlertRef> refs;              // one per alert, in order
  std::vector<DecodeFailure> failures;     // in input order
  std::vector<DecodeRepairNote> warnings;  // in input order: one per repair
  uint64_t events = 0;
  uint64_t alert_count = 0;
  // The greatest event time of the decoded events (INT64_MIN: none yet).
  int64_t max_time_ms = std::numeric_limits<int64_t>::min();
  // For the stateful stage, in input order (empty when the policy has no stateful rule).
  std::vector<StatefulRecord> records;
  void Clear() {
    alerts.clear();
    refs.clear();
    failures.clear();
    warnings.clear();
    events = 0;
    alert_count = 0;
    max_time_ms = std::numeric_limits<int64_t>::min();
    records.clear();
  }
  std::string_view AlertJson(const AlertRef& ref) const {
    return std::string_view(alerts).substr(ref.begin, ref.length);
  }
};

// A field value forced onto every event before catalog enrichment (rule tests' `enrich:`).
struct FieldOverride {
  FieldId field;
  std::string value;
};

class EventProcessor : public RecordHandler {
 public:
  EventProcessor(std::shared_ptr<const LoadedPolicy> policy, const ExternalEnricher* external,
                 DecoderOptions options = {});
  ~EventProcessor() override;

  // Decodes `text` (readable up to `capacity` bytes) and appends its alerts and failures to `out`.
  void Process(std::string_view text, size_t capacity, Format format, const Origin& origin,
               ProcessorOutput& out);

  // For rule tests: values to force before catalog enrichment, and a hook that sees every
  // evaluated event with its matches.
  void set_overrides(std::vector<FieldOverride> overrides) { overrides_ = std::move(overrides); }
  using Observer = std::function<void(const Event&, const std::vector<RuleMatch>&)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

  // Fills AlertRef::alerts_total from `counters` (built from this processor's policy).
  void set_alert_counters(std::shared_ptr<const AlertCounters> counters) {
    alert_counters_ = std::move(counters);
  }

  const LoadedPolicy& policy() const { return *policy_; }

  // RecordHandler
  void OnEvent(Event& event) override;
  void OnError(const Origin& origin, Format format, DecodeErrorReason reason,
               std::string_view message) override;

 private:
  void ApplyOverrides(Event& event);
  void AppendAlert(const RuleMatch& match, const Event& event, AlertJsonSpans* spans);
  void RecordStateful(const Event& event, uint32_t first_ref);
  void AddOffers(const Event& event, StatefulRecord& record);

  std::shared_ptr<const LoadedPolicy> policy_;
  const ExternalEnricher* external_;
  Decoder decoder_;
  Arena arena_;
  std::unique_ptr<CatalogScratch> catalog_scratch_;
  std::unique_ptr<MatchScratch> match_scratch_;
  std::vector<RuleMatch> matches_;
  const StatefulPolicy* stateful_ = nullptr;          // null: no stateful rule
  std::vector<std::pair<uint32_t, uint32_t>> feeds_;  // scratch: (correlation, rule bits)
  AlertJsonSpans first_spans_;  // the current event's first alert: where its fragments are
  std::vector<FieldOverride> overrides_;
  Observer observer_;
  std::shared_ptr<const AlertCounters> alert_counters_;
  ProcessorOutput* out_ = nullptr;  // set during Process()
};

// Sets `field` on `event` from text according to the field's type (bools: true/false, numbers:
// integers, ip: parsed into source_addr too). Returns false when the text does not fit the type.
bool SetFieldFromText(Event& event, FieldId field, std::string_view text, Arena& arena);

// Kafka messages (pipeline/worker.cc; here so that tests/fuzz can reach them). True when a message
// holds more than one line of content (JSON Lines batched into one message by some shippers, or
// one pretty-printed record): it is then framed as a file is, by ProcessLines.
bool HasSeveralLines(std::string_view payload);

// Decodes a message of several lines record by record (each its own origin.index), so that one
// bad line costs only itself, as in an envelope. A pretty-printed record stays one record.
// `padded` is scratch space for the padded copy the framer needs.
void ProcessLines(EventProcessor& processor, std::string_view payload, Format format,
                  const Origin& origin, const DecoderOptions& options, std::string& padded,
                  ProcessorOutput& out);

}  // namespace chipwatch
