// Internal to daemon/decode/: the per-record context and the small simdjson On-Demand helpers that
// the per-format decoders share. Not part of the public API (decoder.h is). Everything here runs on
// the thread that owns the Decoder; nothing is shared.
//
// Compiled once per simdjson kernel (isa.h): everything is inside CHIPWATCH_DECODE_BEGIN/END.
#pragma once

#include <charconv>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <optional>
#include <string>
#include <string_view>

#include "core/arena.h"
#include "core/ascii.h"
#include "core/event.h"
#include "decode/decoder.h"
#include "decode/isa.h"  // simdjson.h for this TU's kernel

CHIPWATCH_DECODE_BEGIN

namespace od = simdjson::ondemand;

// A growable buffer whose readable size always exceeds its content by SIMDJSON_PADDING. Grows
// geometrically and is reused, so steady-state decoding does not allocate.
class PaddedBuffer {
 public:
  // Copies `text` in and returns a view of the copy; the bytes after it are readable padding.
  std::string_view Assign(std::string_view text) {
    Reserve(text.size());
    if (!text.empty()) std::memcpy(data_.get(), text.data(), text.size());
    std::memset(data_.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return {data_.get(), text.size()};
  }
  size_t capacity() const { return capacity_; }  // readable bytes from data()

 private:
  void Reserve(size_t n) {
    size_t need = n + simdjson::SIMDJSON_PADDING;
    if (need <= capacity_) return;
    size_t cap = capacity_ ? capacity_ : 4096;
    while (cap < need) cap *= 2;
    data_ = std::make_unique<char[]>(cap);
    capacity_ = cap;
  }
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
};

// State for decoding one record. A format decoder fills `event` and returns true, or calls Fail()
// (which records the reason and message) and returns false.
struct RecordContext {
  Event& event;
  Arena& arena;
  od::parser& nested_parser;    // for JSON documents inside strings (Azure requestbody)
  PaddedBuffer& nested_buffer;  // padded copy of such a string
  std::string& message;         // error message storage, reused
  DecodeErrorReason reason = DecodeErrorReason::kInvalidJson;
  // Set when the record's time field has a value that is not a timestamp (another type, or text
  // that does not parse): the record is still evaluated, with the time it was read (lenient
  // decoding, DocumentDecoder::Repair).
  bool invalid_time = false;
  // Set by a decoder that found its record wrapped (CloudTrail inside an EventBridge event's
  // `detail`): the raw JSON of the record, which the caller then decodes in its place.
  std::string_view unwrap;
  // True for a context walking a JSON document inside a string (WalkJsonString): its strings live
  // in the nested parser, which is reused, so what is kept must be copied into the arena.
  bool nested = false;

  bool Fail(DecodeErrorReason r, std::string_view a, std::string_view b = {},
            std::string_view c = {}, std::string_view d = {}) {
    reason = r;
    message.assign(a).append(b).append(c).append(d);
    return false;
  }
  // A simdjson error met while walking the record.
  bool FailJson(simdjson::error_code e, std::string_view where = {}) {
    DecodeErrorReason r = e == simdjson::UTF8_ERROR    ? DecodeErrorReason::kInvalidUtf8
                          : e == simdjson::DEPTH_ERROR ? DecodeErrorReason::kTooDeep
                                                       : DecodeErrorReason::kInvalidJson;
    if (where.empty()) return Fail(r, simdjson::error_message(e));
    return Fail(r, where, ": ", simdjson::error_message(e));
  }
  bool MissingField(std::string_view field) {
    return Fail(DecodeErrorReason::kMissingField, "missing required field '", field, "'");
  }
  bool WrongType(std::string_view field, std::string_view expected) {
    return Fail(DecodeErrorReason::kWrongType, "field '", field, "' must be ", expected);
  }
};

// The key of an object field as written (no copy) unless it contains escapes, in which case it is
// unescaped into the parser's string buffer.
inline std::string_view KeyOf(od::field& field) {
  const char* begin = field.key().raw();
  const char* p = begin;
#if defined(__SSE2__)
  // 16 bytes at a time (keys are short: usually one step). Reading past the key is safe: the
  // closing quote is inside the document, which is followed by SIMDJSON_PADDING readable bytes.
  for (;;) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const int hits = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    if (hits != 0) {
      p += __builtin_ctz(static_cast<unsigned>(hits));
      break;
    }
    p += 16;
  }
#else
  while (*p != '"' && *p != '\\') ++p;  // stage 1 guarantees a closing quote
#endif
  if (*p == '"') return {begin, static_cast<size_t>(p - begin)};
  std::string_view key;
  if (field.unescaped_key().get(key)) return {};
  return key;
}

// Calls fn(key, value) for every field of `object` in document order. fn returns false to abort
// (having called ctx.Fail). Returns false on abort or on a JSON error (ctx.FailJson).
template <typename Fn>
inline bool ForEachField(RecordContext& ctx, od::object& object, Fn&& fn) {
  for (auto field_result : object) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return ctx.FailJson(e);
    std::string_view key = KeyOf(field);
    if (!fn(key, field.value())) return false;
  }
  return true;
}

// Calls fn(index, value) for every element of `array`. fn returns false to abort (ctx failed).
template <typename Fn>
inline bool ForEachElement(RecordContext& ctx, od::array& array, Fn&& fn) {
  size_t i = 0;
  for (auto element_result : array) {
    od::value element;
    if (auto e = std::move(element_result).get(element)) return ctx.FailJson(e);
    if (!fn(i++, element)) return false;
  }
  return true;
}

// Walks a JSON document held in a string (Azure's properties.requestbody, BigQuery's requestJson):
// the text is copied into the nested padded buffer and fn(root, nested_ctx) walks it with the
// nested parser. Text that is not valid JSON (Azure truncates long bodies) is ignored, never an
// error of the record: returns false, and so does fn's abort, whose error stays in nested_ctx.
// Strings of the nested document live in the nested parser, which the next call reuses: fn's
// caller copies what it keeps into ctx.arena.
template <typename Fn>
inline bool WalkJsonString(RecordContext& ctx, std::string_view text, Fn&& fn) {
  std::string_view padded = ctx.nested_buffer.Assign(text);
  od::document doc;
  od::value root;
  if (ctx.nested_parser.iterate(padded.data(), padded.size(), ctx.nested_buffer.capacity())
          .get(doc) ||
      doc.get_value().get(root)) {
    return false;
  }
  RecordContext nested_ctx{ctx.event, ctx.arena, ctx.nested_parser, ctx.nested_buffer, ctx.message};
  nested_ctx.nested = true;
  return fn(root, nested_ctx);
}

// Notes an instance, machine or VM-size type that the call names (Event::instance_types: a call
// may name several, and any restricted one makes it match).
// Event::AddInstanceType drops repeats; a value read with the nested parser is copied first.
inline void NoteInstanceType(RecordContext& ctx, std::string_view type) {
  ctx.event.AddInstanceType(ctx.nested && !type.empty() ? ctx.arena.Copy(type) : type);
}

// Optional-field accessors: nullopt / false when the value has another type (the field is then
// ignored; structural errors surface when the enclosing iteration continues).
inline std::optional<std::string_view> AsString(od::value& v) {
  std::string_view s;
  if (v.get_string().get(s)) return std::nullopt;
  return s;
}
inline bool AsObject(od::value& v, od::object& out) { return !v.get_object().get(out); }
inline bool AsArray(od::value& v, od::array& out) { return !v.get_array().get(out); }

// Arrays nested in arrays that WalkTree still walks. A record is held to DecoderOptions::max_depth
// before it is decoded, but a JSON document inside a string (an Azure request body) is not: without
// this bound `[[[[...` there recursed once per bracket and a long enough string overflowed the
// stack (fuzz_decode_azure).
inline constexpr int kMaxWalkedArrayNesting = 32;

// Walks a JSON value down to `max_depth` levels: an object goes to on_object(object, depth), which
// walks the values it does not consume by calling its own walker at depth + 1; an array's elements
// are walked at the array's depth (`arrays`, the arrays around them since the last object, is held
// to kMaxWalkedArrayNesting); scalars and values that are not JSON are ignored.
template <typename OnObject>
bool WalkTree(RecordContext& ctx, od::value& v, int depth, int max_depth, OnObject&& on_object,
              int arrays = 0) {
  if (depth > max_depth || arrays > kMaxWalkedArrayNesting) return true;
  od::json_type type;
  if (v.type().get(type)) return true;
  if (type == od::json_type::object) {
    od::object object;
    if (!AsObject(v, object)) return true;
    return on_object(object, depth);
  }
  if (type == od::json_type::array) {
    od::array array;
    if (!AsArray(v, array)) return true;
    return ForEachElement(ctx, array, [&](size_t, od::value& e) {
      return WalkTree(ctx, e, depth, max_depth, on_object, arrays + 1);
    });
  }
  return true;
}

// Calls fn(key, value) for the fields of `v` when it is an object; anything else is ignored.
template <typename Fn>
bool ForEachFieldOf(RecordContext& ctx, od::value& v, Fn&& fn) {
  od::object object;
  if (!AsObject(v, object)) return true;
  return ForEachField(ctx, object, fn);
}

// A required string: fails the record with kWrongType for another type, kInvalidJson for a
// malformed string (bad escape).
inline std::optional<std::string_view> RequireString(RecordContext& ctx, od::value& v,
                                                     std::string_view name) {
  std::string_view s;
  auto e = v.get_string().get(s);
  if (!e) return s;
  if (e == simdjson::INCORRECT_TYPE) {
    ctx.WrongType(name, "a string");
  } else {
    ctx.FailJson(e, name);
  }
  return std::nullopt;
}

// A non-negative count given as a JSON integer, an integral double or a decimal string ("8").
inline std::optional<int64_t> AsCount(od::value& v) {
  od::json_type type;
  if (v.type().get(type)) return std::nullopt;
  if (type == od::json_type::number) {
    int64_t n;
    if (!v.get_int64().get(n)) return n >= 0 ? std::optional<int64_t>(n) : std::nullopt;
    double d;
    if (!v.get_double().get(d) && d >= 0 && d < 9e15 && d == static_cast<double>(int64_t(d))) {
      return static_cast<int64_t>(d);
    }
    return std::nullopt;
  }
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s) || s.empty()) return std::nullopt;
    // Decimal digits only (what std::from_chars accepts, minus the sign), without overflow. Not
    // std::from_chars: a standard template instantiated in this TU would be compiled for this
    // kernel and could be shared with baseline code by the linker (isa.h).
    int64_t n = 0;
    for (char c : s) {
      if (c < '0' || c > '9' || n > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
      n = n * 10 + (c - '0');
    }
    return n;
  }
  return std::nullopt;
}

// ASCII case-insensitive equality; `lower` must be lower case.
inline bool EqualsLower(std::string_view s, std::string_view lower) {
  return AsciiEqualsIgnoreCase(s, lower);
}
inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
inline bool ContainsLower(std::string_view s, std::string_view lower) {
  if (lower.size() > s.size()) return false;
  for (size_t i = 0; i + lower.size() <= s.size(); ++i) {
    if (EqualsLower(s.substr(i, lower.size()), lower)) return true;
  }
  return false;
}

// The text after the last '/' (the whole string when there is none).
inline std::string_view LastSegment(std::string_view s) {
  size_t slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

// Decimal text of `n` in arena storage.
inline std::string_view NumberText(Arena& arena, int64_t n) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  return arena.Copy(std::string_view(buf, static_cast<size_t>(ptr - buf)));
}

// Sets event.time from an RFC 3339 text. Text that does not parse leaves it unset and marks the
// time invalid: the record is evaluated with the time it was read (lenient decoding).
inline void SetTime(RecordContext& ctx, std::string_view text) {
  auto ms = ParseTimestampMs(text);
  if (!ms) {
    ctx.invalid_time = true;
    return;
  }
  ctx.event.str[static_cast<size_t>(FieldId::kEventTime)] = text;
  ctx.event.SetNum(FieldId::kEventTime, *ms);
}

// A time field's value: a string goes to SetTime; another type (null, a number) marks the time
// invalid. Only a malformed string (bad escape) fails the record.
inline bool ReadTime(RecordContext& ctx, od::value& v, std::string_view name) {
  std::string_view s;
  auto e = v.get_string().get(s);
  if (!e) {
    SetTime(ctx, s);
    return true;
  }
  if (e == simdjson::INCORRECT_TYPE) {
    ctx.invalid_time = true;
    return true;
  }
  return ctx.FailJson(e, name);
}

// The record's own id: a string sets event.id; another type (null, a number) is ignored, and the
// id is then derived from the record's bytes (lenient decoding). A malformed string fails it.
inline bool ReadEventId(RecordContext& ctx, od::value& v, std::string_view name) {
  std::string_view s;
  auto e = v.get_string().get(s);
  if (!e) {
    if (!s.empty()) ctx.event.SetStr(FieldId::kEventId, s);
    return true;
  }
  return e == simdjson::INCORRECT_TYPE || ctx.FailJson(e, name);
}

// Sets source.ip (text) and event.source_addr (parsed; stays invalid for "AWS Internal" etc.).
inline void SetSourceIp(Event& event, std::string_view text) {
  event.SetStr(FieldId::kSourceIp, text);
  event.source_addr = ParseIp(text);
}

inline void SetOutcome(Event& event, bool failure) {
  event.SetStr(FieldId::kOutcome, failure ? std::string_view("failure") : "success");
}

// Per-format decoders (one .cc each). `record` is the record's top-level object, positioned at its
// start. They set every field but origin, event.format and kFormat (set by the caller).
bool DecodeCloudTrail(od::object& record, RecordContext& ctx);
bool DecodeGcpAudit(od::object& record, RecordContext& ctx);
bool DecodeAzureActivity(od::object& record, RecordContext& ctx);
bool DecodeK8sAudit(od::object& record, RecordContext& ctx);
bool DecodeGpuAlloc(od::object& record, RecordContext& ctx);
bool DecodeOciAudit(od::object& record, RecordContext& ctx);

CHIPWATCH_DECODE_END
