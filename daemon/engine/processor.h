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
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "decode/decoder.h"
#include "engine/alert_counters.h"
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
  const CompiledRule* rule = nullptr;
  Severity severity = Severity::kInfo;
  // chipwatch_alerts_total{rule_id,severity} for this alert, when the processor was given the
  // policy's AlertCounters (the daemon); null otherwise.
  Counter* alerts_total = nullptr;
};

// What processing a batch of documents produced.
struct ProcessorOutput {
  std::string alerts;                      // JSON lines, each ending in '\n'
  std::vector<AlertRef> refs;              // one per alert, in order
  std::vector<DecodeFailure> failures;     // in input order
  std::vector<DecodeRepairNote> warnings;  // in input order: one per repair
  uint64_t events = 0;
  uint64_t alert_count = 0;
  void Clear() {
    alerts.clear();
    refs.clear();
    failures.clear();
    warnings.clear();
    events = 0;
    alert_count = 0;
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

  std::shared_ptr<const LoadedPolicy> policy_;
  const ExternalEnricher* external_;
  Decoder decoder_;
  Arena arena_;
  std::unique_ptr<CatalogScratch> catalog_scratch_;
  std::unique_ptr<MatchScratch> match_scratch_;
  std::vector<RuleMatch> matches_;
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
