// The document decoder: envelopes, records, format detection, error reporting; the per-format
// field extraction is in the other .cc files. Compiled once per simdjson kernel (isa.h).
#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "core/arena.h"
#include "core/json_scan.h"
#include "decode/backend.h"
#include "decode/internal.h"

#if defined(__SSE2__) || defined(CHIPWATCH_DECODE_HASWELL)
#include <immintrin.h>
#endif

CHIPWATCH_DECODE_BEGIN

namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kExpectedFormats =
    "record matches no known format (expected cloudtrail: eventVersion or eventSource with "
    "eventID or eventName, or an EventBridge event with detail-type '... via CloudTrail'; "
    "gcp_audit: protoPayload or logName+insertId; azure_activity: operationName with "
    "correlationId, resourceId, resultType or callerIpAddress; k8s_audit: auditID, apiVersion "
    "audit.k8s.io/* with kind Event, or verb with objectRef or requestURI; gpu_alloc: schema "
    "gpu-alloc/v1; oci_audit: eventType or type com.oraclecloud.*, cloudEventsVersion, or "
    "logContent)";

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Number of '{' and '[' bytes in s (inside strings too), counting no further than `limit`.
size_t CountOpenBrackets(std::string_view s, size_t limit) {
  size_t count = 0;
  size_t i = 0;
#if defined(CHIPWATCH_DECODE_HASWELL)
  // '[' (0x5B) | 0x20 == '{' (0x7B): one compare finds both; 64 bytes per step.
  const __m256i fold = _mm256_set1_epi8(0x20);
  const __m256i open = _mm256_set1_epi8(0x7B);
  while (i + 64 <= s.size()) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data() + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data() + i + 32));
    uint64_t lo = static_cast<uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_or_si256(a, fold), open)));
    uint64_t hi = static_cast<uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_or_si256(b, fold), open)));
    count += static_cast<size_t>(__builtin_popcountll(lo | hi << 32));
    i += 64;
    if (count > limit) return count;
  }
#elif defined(__SSE2__)
  // '[' (0x5B) | 0x20 == '{' (0x7B): one compare finds both. Matches are counted per byte lane
  // (cmpeq gives -1) and summed every 16 blocks with SAD, avoiding popcount (not in baseline
  // x86-64).
  const __m128i fold = _mm_set1_epi8(0x20);
  const __m128i open = _mm_set1_epi8(0x7B);
  const __m128i zero = _mm_setzero_si128();
  while (i + 16 <= s.size()) {
    __m128i lanes = zero;
    for (int block = 0; block < 16 && i + 16 <= s.size(); ++block, i += 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(_mm_or_si128(v, fold), open));
    }
    __m128i sums = _mm_sad_epu8(lanes, zero);
    count += static_cast<size_t>(_mm_cvtsi128_si32(sums) + _mm_extract_epi16(sums, 4));
    if (count > limit) return count;
  }
#endif
  for (; i < s.size(); ++i) count += (static_cast<unsigned char>(s[i]) | 0x20) == 0x7B;
  return count;
}

// True when objects/arrays nest deeper than max_depth (a top-level object is depth 1).
// simdjson On-Demand does not enforce a depth limit, so the decoder does: a vectorized count of
// brackets rules out almost every record, and only the rest get an exact, string-aware scan.
bool ExceedsDepth(std::string_view s, size_t max_depth) {
  if (CountOpenBrackets(s, max_depth) <= max_depth) return false;
  size_t depth = 0;
  JsonStringState strings;
  for (const char c : s) {
    if (!strings.Outside(c)) continue;
    if (c == '{' || c == '[') {
      if (++depth > max_depth) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

// kRecordsObject: `{"Records": [...]}` (CloudTrail S3 objects; Azure's `records`).
// kEventList: `{"kind": "EventList", ..., "items": [...]}` (the Kubernetes audit webhook's
// batches). kArray: `[...]`.
enum class Envelope { kNone, kRecordsObject, kEventList, kArray };

// The key of the array of records in an object envelope.
std::string_view RecordsKey(Envelope e) { return e == Envelope::kEventList ? "items" : "Records"; }

// Position after `"key"` and the blanks after it, at s[i] (which is '"'), or npos.
size_t AfterKey(std::string_view s, size_t i, std::string_view key, bool any_case) {
  if (i + key.size() + 2 > s.size() || s[i] != '"' || s[i + key.size() + 1] != '"') {
    return std::string_view::npos;
  }
  const std::string_view k = s.substr(i + 1, key.size());
  if (any_case ? !EqualsLower(k, key) : k != key) return std::string_view::npos;
  i += key.size() + 2;
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// Recognizes the envelopes from the first bytes only, so single records pay nothing for envelope
// support: "Records" (any case) or "kind": "EventList" must be the object's first key.
Envelope DetectEnvelope(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  if (i >= s.size()) return Envelope::kNone;
  if (s[i] == '[') return Envelope::kArray;
  if (s[i] != '{') return Envelope::kNone;
  ++i;
  while (i < s.size() && IsSpace(s[i])) ++i;
  // Most documents are single records: their first key rules both envelopes out at once.
  if (i + 1 >= s.size() || s[i] != '"' || (s[i + 1] != 'R' && s[i + 1] != 'r' && s[i + 1] != 'k')) {
    return Envelope::kNone;
  }
  size_t after = AfterKey(s, i, "records", true);
  if (after != std::string_view::npos) {
    return after < s.size() && s[after] == ':' ? Envelope::kRecordsObject : Envelope::kNone;
  }
  after = AfterKey(s, i, "kind", false);
  if (after == std::string_view::npos || after >= s.size() || s[after] != ':') {
    return Envelope::kNone;
  }
  ++after;
  while (after < s.size() && IsSpace(s[after])) ++after;
  return AfterKey(s, after, "EventList", false) != std::string_view::npos ? Envelope::kEventList
                                                                          : Envelope::kNone;
}

// Position of the first byte at or after s[i] that is not a blank (s.size() when none is).
size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// One element of an envelope's array scanned from its first byte (the splitter's view of it):
// `end` is the ',' or ']' that ends it at depth 0, or just after the '}' / ']' closing its own
// object or array. `complete` is false when the text ends inside the element (truncated).
struct ElementScan {
  size_t end;
  bool complete;
};
ElementScan ScanElement(std::string_view s, size_t start) {
  size_t i = start;
  size_t depth = 0;
  JsonStringState strings;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (!strings.Outside(c)) continue;
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) break;
      if (--depth == 0) {
        ++i;
        break;
      }
    } else if (c == ',' && depth == 0) {
      break;
    }
  }
  return {i, depth == 0 && !strings.in_string()};
}

// Byte position of the value of the top-level key `key` of the object starting at s[i] ('{'), or
// npos. String-aware; does not validate.
size_t FindTopLevelValue(std::string_view s, size_t i, std::string_view key) {
  int depth = 0;
  JsonStringState strings;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    const bool key_start = c == '"' && depth == 1 && !strings.in_string();
    if (!strings.Outside(c)) {
      if (!key_start) continue;
      // A string at depth 1 is a key when a ':' follows it; `key` may be it.
      size_t after = AfterKey(s, i, key, false);
      if (after != std::string_view::npos && after < s.size() && s[after] == ':') {
        ++after;
        while (after < s.size() && IsSpace(s[after])) ++after;
        return after;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) break;
    }
  }
  return std::string_view::npos;
}

std::string_view TypeName(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "a value";
}

using FormatFn = bool (*)(od::object&, RecordContext&);

FormatFn DecoderFor(Format f) {
  switch (f) {
    case Format::kCloudTrail:
      return DecodeCloudTrail;
    case Format::kGcpAudit:
      return DecodeGcpAudit;
    case Format::kAzureActivity:
      return DecodeAzureActivity;
    case Format::kK8sAudit:
      return DecodeK8sAudit;
    case Format::kGpuAlloc:
      return DecodeGpuAlloc;
    case Format::kOciAudit:
      return DecodeOciAudit;
    case Format::kAuto:
      break;
  }
  return nullptr;
}

constexpr std::string_view kProviders[kFormatCount] = {"",           "aws",       "gcp", "azure",
                                                       "kubernetes", "gpu_alloc", "oci"};

// Shape bits that settle the format by themselves: ScanShape stops at the first key giving one.
constexpr uint32_t kDecisiveShape = kShapeGpuAllocSchema | kShapeAuditId | kShapeProtoPayload |
                                    kShapeEventVersion | kShapeEventBridgeCloudTrail;

// The shape bit of a top-level key whose presence alone counts (its value is not read); 0 for
// other keys.
uint32_t KeyShape(std::string_view key) {
  switch (key.size()) {
    case 4:
      if (key == "verb") return kShapeVerb;
      break;
    case 7:
      if (key == "eventID") return kShapeEventId;
      if (key == "auditID") return kShapeAuditId;
      if (key == "logName") return kShapeLogName;
      break;
    case 8:
      if (key == "insertId") return kShapeInsertId;
      break;
    case 9:
      if (key == "eventName") return kShapeEventName;
      if (key == "objectRef") return kShapeObjectRef;
      break;
    case 10:
      if (EqualsLower(key, "resourceid")) return kShapeResourceId;
      if (key == "requestURI") return kShapeObjectRef;
      if (EqualsLower(key, "resulttype")) return kShapeAzureCaller;
      if (key == "logContent") return kShapeOciAudit;
      break;
    case 11:
      if (key == "eventSource") return kShapeEventSource;
      break;
    case 12:
      if (key == "eventVersion") return kShapeEventVersion;
      if (key == "protoPayload") return kShapeProtoPayload;
      break;
    case 13:
      if (EqualsLower(key, "operationname")) return kShapeOperationName;
      if (EqualsLower(key, "correlationid")) return kShapeCorrelationId;
      break;
    case 15:
      if (EqualsLower(key, "calleripaddress")) return kShapeAzureCaller;
      break;
    case 18:
      if (key == "cloudEventsVersion") return kShapeOciAudit;
      break;
    case 21:
      if (key == "protopayload_auditlog") return kShapeProtoPayload;  // GCP audit log in BigQuery
      break;
    default:
      break;
  }
  return 0;
}

// The shape bit of a top-level key whose string value counts (schema, kind, type, eventType,
// apiVersion, detail-type), reading the value of those keys only; 0 for other keys and values.
uint32_t ValueShape(std::string_view key, od::field& field) {
  std::string_view value;
  switch (key.size()) {
    case 4:
      if (key == "kind" && !field.value().get_string().get(value) && value == "Event") {
        return kShapeKindEvent;
      }
      if (key == "type" && !field.value().get_string().get(value) &&
          StartsWith(value, "com.oraclecloud.")) {
        return kShapeOciAudit;
      }
      break;
    case 6:
      if (key == "schema" && !field.value().get_string().get(value) &&
          StartsWith(value, "gpu-alloc/")) {
        return kShapeGpuAllocSchema;
      }
      break;
    case 9:
      if (key == "eventType" && !field.value().get_string().get(value) &&
          StartsWith(value, "com.oraclecloud.")) {
        return kShapeOciAudit;
      }
      break;
    case 10:
      if (key == "apiVersion" && !field.value().get_string().get(value) &&
          StartsWith(value, "audit.k8s.io/")) {
        return kShapeAuditApiVersion;
      }
      break;
    case 11:
      if (key == "detail-type" && !field.value().get_string().get(value) &&
          value.ends_with("via CloudTrail")) {
        return kShapeEventBridgeCloudTrail;
      }
      break;
    default:
      break;
  }
  return 0;
}

}  // namespace

class DocumentDecoder final : public DecoderBackend {
 public:
  explicit DocumentDecoder(const DecoderOptions& options) : options_(options) {}

  size_t DecodeDocument(std::string_view doc, size_t capacity, Format format, const Origin& origin,
                        RecordHandler& handler) override {
    if (doc.size() >= 3 && static_cast<unsigned char>(doc[0]) == 0xEF &&
        static_cast<unsigned char>(doc[1]) == 0xBB && static_cast<unsigned char>(doc[2]) == 0xBF) {
      doc.remove_prefix(3);  // UTF-8 byte order mark
      capacity -= 3;
    }
    Envelope envelope = DetectEnvelope(doc);
    if (envelope == Envelope::kNone) {
      if (doc.size() > options_.max_record_bytes) {
        ReportTooLarge(doc.size(), options_.max_record_bytes, "max_record_bytes", format, origin,
                       handler);
        return 1;
      }
    } else if (doc.size() > options_.max_document_bytes) {
      ReportTooLarge(doc.size(), options_.max_document_bytes, "max_document_bytes", format, origin,
                     handler);
      return 1;
    }
    if (capacity < doc.size() + simdjson::SIMDJSON_PADDING) {
      doc = document_buffer_.Assign(doc);
      capacity = document_buffer_.capacity();
    }
    if (envelope == Envelope::kNone) {
      DecodeRecord(doc, capacity, format, origin, handler);
      return 1;
    }
    return DecodeEnvelope(doc, capacity, envelope, format, origin, handler);
  }

  std::optional<Format> Detect(std::string_view record) override {
    if (record.size() > options_.max_record_bytes || ExceedsDepth(record, options_.max_depth)) {
      return std::nullopt;
    }
    std::string_view padded = document_buffer_.Assign(record);
    od::document doc;
    od::object object;
    if (record_parser_.iterate(padded.data(), padded.size(), document_buffer_.capacity())
            .get(doc) ||
        doc.get_object().get(object)) {
      return std::nullopt;
    }
    uint32_t shape = 0;
    if (ScanShape(object, shape)) return std::nullopt;
    return DetectFormat(shape);
  }

 private:
  void ReportTooLarge(size_t size, size_t limit, std::string_view option, Format format,
                      const Origin& origin, RecordHandler& handler) {
    message_.assign(std::to_string(size))
        .append(" bytes exceeds the limit of ")
        .append(std::to_string(limit))
        .append(" bytes (")
        .append(option)
        .append(")");
    handler.OnError(origin, format, DecodeErrorReason::kTooLarge, message_);
  }

  // Reads the top-level keys that DetectFormat looks at. Stops early on a decisive key.
  simdjson::error_code ScanShape(od::object& object, uint32_t& shape) {
    for (auto field_result : object) {
      od::field field;
      if (auto e = std::move(field_result).get(field)) return e;
      std::string_view key = KeyOf(field);
      const uint32_t bits = KeyShape(key) | ValueShape(key, field);
      shape |= bits;
      if (bits & kDecisiveShape) return simdjson::SUCCESS;
    }
    return simdjson::SUCCESS;
  }

  void ReportError(const Origin& origin, Format format, DecodeErrorReason reason,
                   RecordHandler& handler) {
    handler.OnError(origin, format, reason, message_);
  }

  void ReportJsonError(simdjson::error_code e, const Origin& origin, Format format,
                       RecordHandler& handler) {
    RecordContext ctx = Context();
    ctx.FailJson(e);
    ReportError(origin, format, ctx.reason, handler);
  }

  RecordContext Context() {
    return RecordContext{event_, arena_, nested_parser_, nested_buffer_, message_};
  }

  // Decodes one record: `text` is a JSON value with `capacity` readable bytes from text.data().
  // `unwrapped`: text is the record a wrapper held (an EventBridge event's `detail`).
  void DecodeRecord(std::string_view text, size_t capacity, Format format, const Origin& origin,
                    RecordHandler& handler, bool unwrapped = false) {
    if (text.size() > options_.max_record_bytes) {
      ReportTooLarge(text.size(), options_.max_record_bytes, "max_record_bytes", format, origin,
                     handler);
      return;
    }
    if (ExceedsDepth(text, options_.max_depth)) {
      message_.assign("record nests objects/arrays deeper than the limit of ")
          .append(std::to_string(options_.max_depth))
          .append(" (max_depth)");
      ReportError(origin, format, DecodeErrorReason::kTooDeep, handler);
      return;
    }
    od::document doc;
    if (auto e = record_parser_.iterate(text.data(), text.size(), capacity).get(doc)) {
      ReportJsonError(e, origin, format, handler);
      return;
    }
    od::object object;
    if (!GetRecordObject(doc, object, origin, format, handler)) return;
    if (format == Format::kAuto) {
      uint32_t shape = 0;
      if (auto e = ScanShape(object, shape)) {
        ReportJsonError(e, origin, format, handler);
        return;
      }
      std::optional<Format> detected = DetectFormat(shape);
      if (!detected) {
        message_.assign(kExpectedFormats);
        ReportError(origin, format, DecodeErrorReason::kUnknownFormat, handler);
        return;
      }
      format = *detected;
      doc.rewind();
      if (!GetRecordObject(doc, object, origin, format, handler)) return;
    }

    event_.Clear();
    arena_.Reset();
    event_.origin = origin;
    event_.format = format;
    event_.SetStr(FieldId::kFormat, FormatName(format));
    event_.SetStr(FieldId::kProvider, kProviders[static_cast<size_t>(format)]);
    RecordContext ctx = Context();
    if (!DecoderFor(format)(object, ctx)) {
      ReportError(origin, format, ctx.reason, handler);
      return;
    }
    // Trailing bytes after the record's closing brace (e.g. `{...} x`).
    const char* trailing = nullptr;
    if (!doc.current_location().get(trailing)) {
      message_.assign("unexpected content after the record");
      ReportError(origin, format, DecodeErrorReason::kInvalidJson, handler);
      return;
    }
    if (!ctx.unwrap.empty()) {
      if (unwrapped) {
        message_.assign("an EventBridge 'detail' holds another EventBridge event");
        ReportError(origin, format, DecodeErrorReason::kWrongType, handler);
        return;
      }
      // The wrapper is done with (record_parser_ is free again); its record is decoded alone.
      const std::string_view inner = ctx.unwrap;
      DecodeRecord(inner, static_cast<size_t>(text.data() + capacity - inner.data()), format,
                   origin, handler, true);
      return;
    }
    Repair(text, ctx.invalid_time);
    handler.OnEvent(event_);
  }

  // Lenient decoding: a record whose action is known is evaluated even without an id or a usable
  // time. The id is derived from the record's bytes (the same bytes give the same id); the time
  // the record was read stands in for its event time. Each repair is flagged in event_.repairs.
  void Repair(std::string_view text, bool invalid_time) {
    if (event_.Str(FieldId::kEventId).empty()) {
      // FNV-1a over the bytes, finished with splitmix64's mixer for a well-spread 64-bit value.
      uint64_t h = 0xcbf29ce484222325ull;
      for (char c : text) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
      h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
      h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
      h ^= h >> 31;
      char id[32];
      std::memcpy(id, kDerivedIdPrefix.data(), kDerivedIdPrefix.size());
      static constexpr char kHex[] = "0123456789abcdef";
      for (int i = 0; i < 16; ++i) id[kDerivedIdPrefix.size() + i] = kHex[(h >> (60 - 4 * i)) & 15];
      event_.SetStr(FieldId::kEventId,
                    arena_.Copy(std::string_view(id, kDerivedIdPrefix.size() + 16)));
      event_.repairs |= 1u << static_cast<unsigned>(DecodeWarning::kMissingId);
    }
    if (!event_.Has(FieldId::kEventTime)) {
      const int64_t ms =
          event_.origin.read_time_ms != 0 ? event_.origin.read_time_ms : WallClockMs();
      event_.SetNum(FieldId::kEventTime, ms);
      TimestampBuffer time_text;  // not a std::string: the repair allocates nothing once warm
      event_.str[static_cast<size_t>(FieldId::kEventTime)] =
          arena_.Copy(FormatTimestampMs(ms, time_text));
      event_.repairs |= 1u << static_cast<unsigned>(invalid_time ? DecodeWarning::kInvalidTime
                                                                 : DecodeWarning::kMissingTime);
    }
  }

  bool GetRecordObject(od::document& doc, od::object& object, const Origin& origin, Format format,
                       RecordHandler& handler) {
    od::json_type type;
    if (auto e = doc.type().get(type)) {
      ReportJsonError(e, origin, format, handler);
      return false;
    }
    if (type != od::json_type::object) {
      // type() only looks at the first byte: "not json" would pass for null. Read the scalar so
      // that text which is not JSON at all is reported as such.
      simdjson::error_code e = simdjson::SUCCESS;
      switch (type) {
        case od::json_type::null: {
          bool is_null = false;
          e = doc.is_null().get(is_null);
          if (!e && !is_null) e = simdjson::N_ATOM_ERROR;
          break;
        }
        case od::json_type::boolean:
          e = doc.get_bool().error();
          break;
        case od::json_type::number:
          e = doc.get_number().error();
          break;
        case od::json_type::string:
          e = doc.get_string().error();
          break;
        default:
          break;
      }
      if (e) {
        ReportJsonError(e, origin, format, handler);
        return false;
      }
      message_.assign("record is ").append(TypeName(type)).append(", not a JSON object");
      ReportError(origin, format, DecodeErrorReason::kNotAnObject, handler);
      return false;
    }
    if (auto e = doc.get_object().get(object)) {
      ReportJsonError(e, origin, format, handler);
      return false;
    }
    return true;
  }

  // Line of `p` inside the envelope, counting newlines from the previous position reported.
  // Positions can move back: when the fast path stops inside an envelope, the byte splitter starts
  // again from the envelope's beginning (a damaged envelope also makes the two disagree on where an
  // element ends), so it can report a position before the fast path's last one. Each count stays
  // between two positions inside the envelope.
  uint64_t LineOf(const char* p) {
    if (p >= line_scan_) {
      line_ += static_cast<uint64_t>(std::count(line_scan_, p, '\n'));
    } else {
      line_ -= static_cast<uint64_t>(std::count(p, line_scan_, '\n'));
    }
    line_scan_ = p;
    return line_;
  }

  Origin RecordOrigin(const Origin& origin, const char* record_start, size_t index) {
    Origin o = origin;
    if (origin.line != 0) o.line = LineOf(record_start);
    o.index = static_cast<uint32_t>(index);
    return o;
  }

  // Each element of the envelope's array is decoded separately with record_parser_, so a bad
  // record costs only itself. The envelope is walked with envelope_parser_ (fast path); when
  // simdjson rejects the envelope as a whole (e.g. one record has invalid UTF-8) the remaining
  // elements are split by a byte scanner instead.
  size_t DecodeEnvelope(std::string_view doc, size_t capacity, Envelope envelope, Format format,
                        const Origin& origin, RecordHandler& handler) {
    line_ = origin.line;
    line_scan_ = doc.data();
    od::document env;
    if (envelope_parser_.iterate(doc.data(), doc.size(), capacity).get(env)) {
      return SplitEnvelope(doc, capacity, envelope, 0, format, origin, handler);
    }
    if (envelope == Envelope::kArray) {
      od::array array;
      if (env.get_array().get(array)) {
        return SplitEnvelope(doc, capacity, envelope, 0, format, origin, handler);
      }
      return DecodeArray(array, doc, capacity, envelope, format, origin, handler);
    }
    od::object object;
    if (env.get_object().get(object)) {
      return SplitEnvelope(doc, capacity, envelope, 0, format, origin, handler);
    }
    // kRecordsObject: DetectEnvelope saw "Records" as the first key, and only that field is
    // read. kEventList: the fields before "items" (kind, apiVersion, metadata) are skipped.
    for (auto field_result : object) {
      od::field field;
      od::json_type type;
      if (std::move(field_result).get(field)) break;
      if (envelope == Envelope::kEventList && KeyOf(field) != "items") continue;
      if (field.value().type().get(type)) break;
      od::array array;
      if (type != od::json_type::array || field.value().get_array().get(array)) {
        message_.assign("envelope field '")
            .append(RecordsKey(envelope))
            .append("' must be an array, not ")
            .append(TypeName(type));
        ReportError(origin, format, DecodeErrorReason::kWrongType, handler);
        return 1;
      }
      return DecodeArray(array, doc, capacity, envelope, format, origin, handler);
    }
    // A damaged envelope, or an EventList without "items": the byte splitter says which.
    return SplitEnvelope(doc, capacity, envelope, 0, format, origin, handler);
  }

  size_t DecodeArray(od::array& array, std::string_view doc, size_t capacity, Envelope envelope,
                     Format format, const Origin& origin, RecordHandler& handler) {
    const char* end_of_buffer = doc.data() + capacity;
    size_t index = 0;
    for (auto element_result : array) {
      od::value element;
      od::json_type type;
      if (std::move(element_result).get(element) || element.type().get(type)) {
        return SplitEnvelope(doc, capacity, envelope, index, format, origin, handler);
      }
      if (type != od::json_type::object) {
        const char* where = element.raw_json_token().data();
        message_.assign("record is ").append(TypeName(type)).append(", not a JSON object");
        ReportError(RecordOrigin(origin, where, index), format, DecodeErrorReason::kNotAnObject,
                    handler);
        ++index;
        continue;
      }
      od::object object;
      std::string_view raw;
      if (element.get_object().get(object) || object.raw_json().get(raw)) {
        return SplitEnvelope(doc, capacity, envelope, index, format, origin, handler);
      }
      DecodeRecord(raw, static_cast<size_t>(end_of_buffer - raw.data()), format,
                   RecordOrigin(origin, raw.data(), index), handler);
      ++index;
    }
    return index;
  }

  // Position just after the '[' that opens the envelope's array of records, or npos when there is
  // none (reported: an EventList without 'items', or a records field that is not an array).
  size_t OpenRecordsArray(std::string_view doc, Envelope envelope, Format format,
                          const Origin& origin, RecordHandler& handler) {
    size_t i = SkipSpace(doc, 0);
    if (envelope == Envelope::kRecordsObject) {
      // `{ "Records" :` was verified by DetectEnvelope.
      i = SkipSpace(doc, i + 1);
      i = SkipSpace(doc, i + 9);
      i = SkipSpace(doc, i + 1);
    } else if (envelope == Envelope::kEventList) {
      i = FindTopLevelValue(doc, i, "items");
      if (i == std::string_view::npos) {
        message_.assign("EventList envelope has no 'items' array");
        ReportError(origin, format, DecodeErrorReason::kMissingField, handler);
        return std::string_view::npos;
      }
    }
    if (i >= doc.size() || doc[i] != '[') {
      message_.assign("envelope field '").append(RecordsKey(envelope)).append("' must be an array");
      ReportError(origin, format, DecodeErrorReason::kWrongType, handler);
      return std::string_view::npos;
    }
    return i + 1;
  }

  // Byte-level envelope splitter for documents simdjson rejects as a whole. Skips the first
  // `skip` elements (already delivered by the fast path).
  size_t SplitEnvelope(std::string_view doc, size_t capacity, Envelope envelope, size_t skip,
                       Format format, const Origin& origin, RecordHandler& handler) {
    const char* end_of_buffer = doc.data() + capacity;
    size_t i = OpenRecordsArray(doc, envelope, format, origin, handler);
    if (i == std::string_view::npos) return 1;
    size_t index = 0;
    // Records reported: the fast path's `skip`, then the splitter's. Returned instead of `index`,
    // which may not reach `skip` when the two disagree on where elements end (a stray ':' or '}'),
    // so that the count matches the reports made.
    size_t reports = skip;
    while (true) {
      i = SkipSpace(doc, i);
      if (i >= doc.size()) break;
      if (doc[i] == ']') return reports;
      if (doc[i] == ',') {
        ++i;
        continue;
      }
      const size_t start = i;
      const ElementScan element = ScanElement(doc, start);
      i = element.end;
      if (i == start) {
        message_.assign("envelope is malformed: unexpected '")
            .append(1, doc[i])
            .append("' at byte ")
            .append(std::to_string(i));
        ReportError(RecordOrigin(origin, doc.data() + i, index), format,
                    DecodeErrorReason::kInvalidJson, handler);
        return reports + 1;
      }
      if (!element.complete) break;  // truncated inside the element
      std::string_view text = doc.substr(start, std::min(i, doc.size()) - start);
      while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
      if (index >= skip) {
        DecodeRecord(text, static_cast<size_t>(end_of_buffer - text.data()), format,
                     RecordOrigin(origin, text.data(), index), handler);
        ++reports;
      }
      ++index;
    }
    // The array never closed: the document was truncated.
    message_.assign("envelope is truncated: its array of records is not closed");
    ReportError(RecordOrigin(origin, doc.data() + std::min(i, doc.size()), index), format,
                DecodeErrorReason::kInvalidJson, handler);
    return reports + 1;
  }

  DecoderOptions options_;
  od::parser envelope_parser_;
  od::parser record_parser_;
  od::parser nested_parser_;
  PaddedBuffer document_buffer_;
  PaddedBuffer nested_buffer_;
  Arena arena_;
  Event event_;
  std::string message_;
  uint64_t line_ = 0;
  const char* line_scan_ = nullptr;
};

std::unique_ptr<DecoderBackend> NewDecoderBackend(const DecoderOptions& options) {
  return std::make_unique<DocumentDecoder>(options);
}

CHIPWATCH_DECODE_END
