#include "decode/decoder.h"

#include <simdjson.h>

#include <array>

#include "decode/backend.h"

namespace chipwatch {

namespace {

constexpr std::array<std::string_view, kDecodeErrorReasonCount> kReasonNames = {
    "invalid_json",  "invalid_utf8",   "too_large",     "too_deep",
    "not_an_object", "unknown_format", "missing_field", "wrong_type"};

using decode_internal::DecoderBackend;

// The On-Demand kernel for this CPU: haswell when compiled in and simdjson says the CPU (and OS)
// support it, else the baseline build (isa.h).
std::unique_ptr<DecoderBackend> NewBackend(const DecoderOptions& options) {
#if defined(CHIPWATCH_DECODE_HAVE_HASWELL) && defined(CHIPWATCH_DECODE_HAVE_BASELINE)
  static const bool haswell = [] {
    const simdjson::implementation* impl = simdjson::get_available_implementations()["haswell"];
    return impl != nullptr && impl->supported_by_runtime_system();
  }();
  if (haswell) return decode_internal::isa_haswell::NewDecoderBackend(options);
  return decode_internal::isa_baseline::NewDecoderBackend(options);
#elif defined(CHIPWATCH_DECODE_HAVE_HASWELL)
  return decode_internal::isa_haswell::NewDecoderBackend(options);
#else
  return decode_internal::isa_baseline::NewDecoderBackend(options);
#endif
}

}  // namespace

std::string_view DecodeErrorReasonName(DecodeErrorReason r) {
  return kReasonNames[static_cast<size_t>(r)];
}

std::string_view DecodeWarningName(DecodeWarning w) {
  static constexpr std::string_view kNames[kDecodeWarningCount] = {"missing_id", "missing_time",
                                                                   "invalid_time"};
  return kNames[static_cast<size_t>(w)];
}

std::optional<Format> DetectFormat(uint32_t shape) {
  if ((shape & (kShapeEventVersion | kShapeEventBridgeCloudTrail)) ||
      ((shape & kShapeEventSource) && (shape & (kShapeEventId | kShapeEventName)))) {
    return Format::kCloudTrail;
  }
  if ((shape & kShapeProtoPayload) || ((shape & kShapeLogName) && (shape & kShapeInsertId))) {
    return Format::kGcpAudit;
  }
  if ((shape & kShapeAuditId) || ((shape & kShapeAuditApiVersion) && (shape & kShapeKindEvent)) ||
      ((shape & kShapeVerb) && (shape & kShapeObjectRef))) {
    return Format::kK8sAudit;
  }
  if (shape & kShapeGpuAllocSchema) return Format::kGpuAlloc;
  if ((shape & kShapeOperationName) &&
      (shape & (kShapeCorrelationId | kShapeResourceId | kShapeAzureCaller))) {
    return Format::kAzureActivity;
  }
  if (shape & kShapeOciAudit) return Format::kOciAudit;
  return std::nullopt;
}

Decoder::Decoder(DecoderOptions options) : options_(options), impl_(NewBackend(options_)) {}

Decoder::~Decoder() = default;

size_t Decoder::DecodeDocument(std::string_view doc, size_t capacity, Format format,
                               const Origin& origin, RecordHandler& handler) {
  return impl_->DecodeDocument(doc, std::max(capacity, doc.size()), format, origin, handler);
}

std::optional<Format> Decoder::Detect(std::string_view record) { return impl_->Detect(record); }

std::string_view DecoderKernel() {
#if defined(CHIPWATCH_DECODE_HAVE_HASWELL) && defined(CHIPWATCH_DECODE_HAVE_BASELINE)
  const simdjson::implementation* impl = simdjson::get_available_implementations()["haswell"];
  if (impl != nullptr && impl->supported_by_runtime_system()) return "haswell";
  return "baseline";
#elif defined(CHIPWATCH_DECODE_HAVE_HASWELL)
  return "haswell";
#else
  return "baseline";
#endif
}

}  // namespace chipwatch
