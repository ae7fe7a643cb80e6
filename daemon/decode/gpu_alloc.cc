// gpu-alloc/v1: chipwatch's own schema for GPU schedulers and Slurm (docs/formats/gpu_alloc.md).
// Strict: every required field must be present with its type, so a broken emitter is noticed.
#include "decode/internal.h"

CHIPWATCH_DECODE_BEGIN

namespace {

constexpr std::string_view kSchemaVersion = "gpu-alloc/v1";

// Required fields, in the order errors name them.
enum Required : uint32_t {
  kSchema = 1u << 0,
  kEventIdBit = 1u << 1,
  kTime = 1u << 2,
  kActionBit = 1u << 3,
  kClusterBit = 1u << 4,
  kNodeBit = 1u << 5,
  kTenantBit = 1u << 6,
  kUser = 1u << 7,
  kGpuModel = 1u << 8,
  kGpuCount = 1u << 9,
  kJobIdBit = 1u << 10,
  kRegionBit = 1u << 11,
};
constexpr std::string_view kRequiredNames[] = {"schema",    "event_id",  "time",   "action",
                                               "cluster",   "node",      "tenant", "user",
                                               "gpu_model", "gpu_count", "job_id", "region"};
constexpr uint32_t kAllRequired = (1u << 12) - 1;

struct StringField {
  std::string_view key;
  FieldId id;
  uint32_t bit;  // 0 for optional fields
};
constexpr StringField kStringFields[] = {
    {"action", FieldId::kAction, kActionBit}, {"cluster", FieldId::kCluster, kClusterBit},
    {"node", FieldId::kNode, kNodeBit},       {"tenant", FieldId::kTenant, kTenantBit},
    {"user", FieldId::kPrincipal, kUser},     {"gpu_model", FieldId::kAcceleratorModel, kGpuModel},
    {"job_id", FieldId::kJobId, kJobIdBit},   {"region", FieldId::kRegion, kRegionBit},
    {"error", FieldId::kErrorMessage, 0},
};

}  // namespace

bool DecodeGpuAlloc(od::object& record, RecordContext& ctx) {
  Event& event = ctx.event;
  uint32_t seen = 0;
  bool failed = false;
  bool ok = ForEachField(ctx, record, [&](std::string_view key, od::value& v) {
    if (key == "event_id") {
      seen |= kEventIdBit;
      return ReadEventId(ctx, v, "event_id");
    }
    for (const StringField& f : kStringFields) {
      if (key != f.key) continue;
      auto s = RequireString(ctx, v, f.key);
      if (!s) return false;
      event.SetStr(f.id, *s);
      seen |= f.bit;
      return true;
    }
    if (key == "schema") {
      auto s = RequireString(ctx, v, "schema");
      if (!s) return false;
      if (*s != kSchemaVersion) {
        return ctx.Fail(DecodeErrorReason::kWrongType, "field 'schema' is '", *s,
                        "', this decoder reads 'gpu-alloc/v1'");
      }
      seen |= kSchema;
    } else if (key == "time") {
      if (!ReadTime(ctx, v, "time")) return false;
      seen |= kTime;
    } else if (key == "gpu_count") {
      int64_t n;
      if (v.get_int64().get(n) || n < 0)
        return ctx.WrongType("gpu_count", "a non-negative integer");
      event.SetNum(FieldId::kAcceleratorCount, n);
      seen |= kGpuCount;
    } else if (key == "src_ip") {
      auto s = RequireString(ctx, v, "src_ip");
      if (!s) return false;
      SetSourceIp(event, *s);
    } else if (key == "outcome") {
      auto s = AsString(v);
      if (!s || (*s != "success" && *s != "failure")) {
        return ctx.WrongType("outcome", "\"success\" or \"failure\"");
      }
      failed = *s == "failure";
    }
    return true;
  });
  if (!ok) return false;
  // The record's id and time may be missing (lenient decoding: DocumentDecoder::Repair).
  seen |= kEventIdBit | kTime;
  if (seen != kAllRequired) {
    for (size_t i = 0; i < std::size(kRequiredNames); ++i) {
      if (!(seen & (1u << i))) return ctx.MissingField(kRequiredNames[i]);
    }
  }
  if (event.Str(FieldId::kAction).empty()) return ctx.WrongType("action", "a non-empty string");
  event.SetStr(FieldId::kEventSource, "gpu_alloc");
  SetOutcome(event, failed);
  return true;
}

CHIPWATCH_DECODE_END
