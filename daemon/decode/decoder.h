// Decoder: turns raw log documents (CloudTrail, GCP audit, Azure Activity, Kubernetes audit,
// gpu-alloc/v1, OCI Audit) into normalized Events, one record at a time.
//
// A Decoder owns its simdjson parsers, padded buffers and Arena and reuses them across documents,
// so after warm-up decoding allocates nothing per event. It never throws and never prints: every
// malformed record becomes one RecordHandler::OnError call. Thread contract: one Decoder per worker
// thread; a Decoder is not thread-safe, distinct Decoders share nothing. docs/formats/ describes
// which source keys fill which fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "core/event.h"

namespace chipwatch {

namespace decode_internal {
class DecoderBackend;  // decode/backend.h
}

enum class DecodeErrorReason : uint8_t {
  kInvalidJson,
  kInvalidUtf8,
  kTooLarge,
  kTooDeep,
  kNotAnObject,
  kUnknownFormat,
  kMissingField,
  kWrongType,
};
inline constexpr int kDecodeErrorReasonCount = 8;

// "invalid_json", "invalid_utf8", "too_large", "too_deep", "not_an_object", "unknown_format",
// "missing_field", "wrong_type": stable metric label values.
std::string_view DecodeErrorReasonName(DecodeErrorReason r);

// Lenient decoding: what a decoder repairs in a record it still evaluates (one whose action is
// known). Each repair sets bit (1 << reason) of Event::repairs and is counted in
// chipwatch_decode_warnings_total{format,reason}.
enum class DecodeWarning : uint8_t {
  kMissingId,    // no id (or not a string): derived from the record's bytes, kDerivedIdPrefix + hex
  kMissingTime,  // no event time: the time the record was read stands in (Origin::read_time_ms)
  kInvalidTime,  // an event time that is not an RFC 3339 timestamp: likewise
};
inline constexpr int kDecodeWarningCount = 3;
// Derived ids start with this, which no provider's ids do; the same bytes give the same id, so
// duplicates stay recognisable.
inline constexpr std::string_view kDerivedIdPrefix = "cw-";

// "missing_id", "missing_time", "invalid_time": stable metric label values.
std::string_view DecodeWarningName(DecodeWarning w);
inline bool HasRepair(uint8_t repairs, DecodeWarning w) {
  return (repairs & (1u << static_cast<unsigned>(w))) != 0;
}

struct DecoderOptions {
  size_t max_record_bytes = 1 << 20;       // one record (a JSONL line or an envelope element)
  size_t max_document_bytes = 256u << 20;  // one document (e.g. a whole CloudTrail S3 object)
  size_t max_depth = 64;                   // nesting of objects/arrays inside one record
};

// Receives decoded events and per-record errors. Called synchronously from DecodeDocument.
class RecordHandler {
 public:
  virtual ~RecordHandler() = default;
  // `event` is valid only during the call (views into the parser / arena). Its origin is filled.
  virtual void OnEvent(Event& event) = 0;
  virtual void OnError(const Origin& origin, Format format, DecodeErrorReason reason,
                       std::string_view message) = 0;
};

// Top-level keys (and key values) of one record that format detection looks at.
enum RecordShapeBit : uint32_t {
  kShapeEventVersion = 1u << 0,            // "eventVersion"
  kShapeEventSource = 1u << 1,             // "eventSource"
  kShapeEventId = 1u << 2,                 // "eventID"
  kShapeProtoPayload = 1u << 3,            // "protoPayload" (BigQuery: "protopayload_auditlog")
  kShapeLogName = 1u << 4,                 // "logName"
  kShapeInsertId = 1u << 5,                // "insertId"
  kShapeOperationName = 1u << 6,           // "operationName", any case
  kShapeCorrelationId = 1u << 7,           // "correlationId", any case
  kShapeResourceId = 1u << 8,              // "resourceId", any case
  kShapeAuditId = 1u << 9,                 // "auditID"
  kShapeAuditApiVersion = 1u << 10,        // "apiVersion": "audit.k8s.io/..."
  kShapeKindEvent = 1u << 11,              // "kind": "Event"
  kShapeGpuAllocSchema = 1u << 12,         // "schema": "gpu-alloc/..."
  kShapeEventBridgeCloudTrail = 1u << 13,  // "detail-type": "... via CloudTrail"
  // Records without their id (lenient decoding) are still recognised by these:
  kShapeEventName = 1u << 14,    // "eventName"
  kShapeAzureCaller = 1u << 15,  // "resultType" or "callerIpAddress", any case
  kShapeVerb = 1u << 16,         // "verb"
  kShapeObjectRef = 1u << 17,    // "objectRef" or "requestURI"
  // OCI Audit: "eventType" or "type" naming a "com.oraclecloud." event, "cloudEventsVersion", or
  // a Logging search result's "logContent".
  kShapeOciAudit = 1u << 18,
};

// The simdjson On-Demand kernel Decoders use on this CPU: "haswell" (AVX2) or "baseline".
std::string_view DecoderKernel();

// Detects the format of a single record from its shape (a mask of RecordShapeBit). Pure function.
std::optional<Format> DetectFormat(uint32_t shape);

class Decoder {
 public:
  explicit Decoder(DecoderOptions options = {});
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // `doc` is one top-level JSON value (a line of JSONL, or a whole pretty-printed file/value).
  // `capacity` >= doc.size() is how many bytes are readable from doc.data(); when capacity <
  // doc.size() + simdjson::SIMDJSON_PADDING the decoder copies into its own padded buffer.
  // The document may be a single record, a CloudTrail `{"Records":[...]}` / Azure
  // `{"records":[...]}` envelope, or a JSON array of records: each record gives one OnEvent or
  // OnError. `format` kAuto detects the format per record from its shape. `origin` says where
  // `doc` starts; for records inside an envelope origin.line becomes the record's own line
  // (unless origin.line is 0, i.e. unknown) and origin.index its 0-based position.
  // Returns the number of records seen (events + errors).
  size_t DecodeDocument(std::string_view doc, size_t capacity, Format format, const Origin& origin,
                        RecordHandler& handler);

  // Convenience for callers that hold a plain string (tests, `chipwatch test`): copies as needed.
  size_t DecodeDocument(std::string_view doc, Format format, const Origin& origin,
                        RecordHandler& handler) {
    return DecodeDocument(doc, doc.size(), format, origin, handler);
  }

  // Detects the format of one record (a JSON object) without decoding it; nullopt when the text
  // is not a JSON object of a known format.
  std::optional<Format> Detect(std::string_view record);

  const DecoderOptions& options() const { return options_; }

 private:
  DecoderOptions options_;
  // One implementation per simdjson On-Demand kernel compiled in (decode/isa.h); the constructor
  // picks the best one this CPU runs.
  std::unique_ptr<decode_internal::DecoderBackend> impl_;
};

}  // namespace chipwatch
