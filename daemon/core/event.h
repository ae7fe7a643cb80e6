// Event: the normalized form every decoder produces and every rule reads.
//
// Fields are addressed by FieldId, resolved from their dotted names ("source.ip") once at rule-load
// time; the per-event path never looks a field up by name. String values are views into the input
// document (valid while its parser lives) or into the worker's Arena. An Event is reused across
// documents by one worker thread: Clear() it before decoding the next one. Not thread-safe.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chipwatch {

enum class Format : uint8_t {
  kAuto = 0,
  kCloudTrail,
  kGcpAudit,
  kAzureActivity,
  kK8sAudit,
  kGpuAlloc,
  kOciAudit
};
inline constexpr int kFormatCount = 7;

std::string_view FormatName(Format f);                     // "cloudtrail", ..., "auto"
std::optional<Format> ParseFormat(std::string_view name);  // inverse of FormatName

enum class FieldType : uint8_t { kString, kNumber, kBool, kIp };

// Every normalized field. Keep kFieldSpecs (event.cc) in the same order.
enum class FieldId : uint16_t {
  // --- set by decoders ---
  kEventId,      // "event.id"        eventID / insertId / correlationId / auditID / event_id
  kEventTime,    // "event.time"      RFC 3339 text as in the record (number: unix ms)
  kFormat,       // "event.format"    cloudtrail, gcp_audit, ... (set by the pipeline)
  kProvider,     // "provider"        aws, gcp, azure, kubernetes, <gpu_alloc cluster scheduler>
  kEventSource,  // "event.source"    eventSource / serviceName / resourceProviderName /
                 // "kubernetes"
  kAction,       // "action"          eventName / methodName / operationName / "<resource>.<verb>" /
                 // action
  kOutcome,      // "outcome"         "success" or "failure"
  kErrorCode,    // "error.code"      errorCode / status.code / HTTP code / ...
  kErrorMessage,  // "error.message"
  kRegion,   // "region"          awsRegion / GCP zone's region / Azure location / gpu_alloc region
  kZone,     // "zone"            GCP zone when known
  kAccount,  // "account"         AWS account id / GCP project id / Azure subscription id
  kPrincipal,  // "principal"       ARN / principalEmail / caller / k8s username / gpu_alloc user
  kPrincipalType,     // "principal.type"  IAMUser, AssumedRole, ServiceAccount, ...
  kTenant,            // "tenant"          k8s namespace / gpu_alloc tenant / (cloud: account)
  kSourceIp,          // "source.ip"       as text; kIp type: parsed into Event::source_addr
  kUserAgent,         // "user_agent"
  kInstanceType,      // "instance.type"   EC2/SageMaker/GCP machine type/Azure vmSize/...; when
                      // a call names several, the one enrichment found restricted (else the first)
  kInstanceTypes,     // "instance.types"  every instance type the call names, comma-separated,
                      // when it names more than one (EKS instanceTypes, fleets, node pools...)
  kAcceleratorModel,  // "accelerator.model"  raw GPU name as the log gives it (k8s label,
                      // gpu_model, GCP acceleratorType)
  kAcceleratorCount,  // "accelerator.count"  number of GPUs when the log gives it
  kModelId,           // "model.id"        Bedrock modelId (may be an ARN / inference profile)
  kInferenceRegion,   // "inference.region" additionalEventData.inferenceRegion
  kResourceName,      // "resource.name"   instance/pod/job/VM name or id, for the analyst
  kCluster,           // "cluster"         k8s / gpu_alloc cluster
  kNode,              // "node"            gpu_alloc node / k8s nodeName
  kJobId,             // "job.id"          gpu_alloc job id / SageMaker job name / Vertex job
  kResponseCode,      // "response.code"   HTTP status (k8s responseStatus.code), number
  kQuotaCode,  // "quota.code"      quota named by a quota-increase request: AWS Service Quotas
               // quotaCode (L-417A185B), GCP Cloud Quotas quotaId, Azure Microsoft.Quota
               // resource name (standardNDSH100v5Family)
  // --- set by enrichment ---
  kSourceCountry,  // "source.country"   ISO 3166 alpha-2 from GeoIP
  kSourceTier,  // "source.tier"      destinations catalog tier of source.country ("embargoed", ...)
  kRegionCountry,          // "region.country"   regions catalog
  kRegionTier,             // "region.tier"      destinations tier of region.country
  kAcceleratorFamily,      // "accelerator.family"  accelerators catalog family (e.g. "H100")
  kAcceleratorStatus,      // "accelerator.status"  restricted | not_controlled | unclear (at event
                           // time)
  kModelFrontier,          // "model.frontier"   bool: model.id matches the frontier_models catalog
  kModelVendor,            // "model.vendor"     frontier_models catalog vendor
  kSourceVendorSupported,  // "source.vendor_supported"  bool: model_vendors catalog: the model's
                           // vendor serves source.country
  kTenantKnown,            // "tenant.known"     bool: tenant/account has a directory entry
  kTenantOrg,              // "tenant.org"
  kTenantCountry,          // "tenant.country"
  kTenantTier,             // "tenant.tier"      destinations tier of tenant.country
  kTenantKyc,              // "tenant.kyc_status"
  kTenantParentOrg,        // "tenant.parent_org"      directory: the ultimate parent organisation
  kTenantParentCountry,    // "tenant.parent_country"  directory: where the parent is headquartered
  kTenantParentTier,       // "tenant.parent_tier"     destinations tier of tenant.parent_country
  // Whether the accelerator's restriction reaches a destination: bool, set when the accelerator
  // entry and that destination's tier are both known; true unless the entry limits itself to
  // some tiers (`restricted_tiers`, e.g. H20: embargoed only) that do not include this one.
  kSourceInScope,        // "source.in_scope"
  kRegionInScope,        // "region.in_scope"
  kTenantInScope,        // "tenant.in_scope"
  kTenantParentInScope,  // "tenant.parent_in_scope"
  kCount
};
inline constexpr size_t kFieldCount = static_cast<size_t>(FieldId::kCount);

struct FieldSpec {
  FieldId id;
  std::string_view name;
  FieldType type;
};

// All fields, indexed by FieldId.
const std::array<FieldSpec, kFieldCount>& FieldSpecs();
std::optional<FieldId> FieldByName(std::string_view name);
inline std::string_view FieldName(FieldId id) { return FieldSpecs()[static_cast<size_t>(id)].name; }
inline FieldType TypeOf(FieldId id) { return FieldSpecs()[static_cast<size_t>(id)].type; }

// An IPv4 (mapped into IPv6) or IPv6 address.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool valid = false;
  bool is_v4 = false;  // bytes hold ::ffff:a.b.c.d
};
// Parses dotted IPv4 (leading zeros accepted, as "010.001.002.003") or IPv6 text. Never throws.
IpAddress ParseIp(std::string_view text);

// Catalog entries that matched during enrichment: the alert's reason names them. Opaque pointers
// owned by the immutable compiled policy, which outlives every event evaluated against it.
struct CatalogEntry;  // defined in policy/definitions.h

// Where an event came from, for alerts and error messages.
struct Origin {
  std::string_view file;   // file path, "-" for stdin, or Kafka topic
  uint64_t line = 0;       // 1-based line of the record's first byte (files)
  int32_t partition = -1;  // Kafka partition, -1 for files
  int64_t offset = -1;     // Kafka offset, -1 for files
  uint32_t index = 0;      // record index inside an envelope ({"Records":[...]} or array), 0-based
  // When the record was read (unix ms): its event time when it has none that parses (lenient
  // decoding). replay: the input file's modification time (stdin: the start of the run); run: the
  // Kafka message's timestamp, or the time a file line was read. 0: the decoder's clock.
  int64_t read_time_ms = 0;
};

struct Event {
  std::array<std::string_view, kFieldCount> str{};  // kString/kIp fields (and text of kEventTime)
  std::array<int64_t, kFieldCount> num{};           // kNumber, kBool (0/1), kEventTime (unix ms)
  std::bitset<kFieldCount> present;                 // field was set (any type)
  IpAddress source_addr;                            // parsed source.ip
  Format format = Format::kAuto;
  Origin origin;
  // What the decoder repaired to evaluate the record (a bit per DecodeWarning, decode/decoder.h):
  // an id derived from the record's bytes, the read time standing in for the event time.
  uint8_t repairs = 0;

  // Catalog entries that enrichment matched (may be null).
  const CatalogEntry* instance_entry = nullptr;     // instance_types catalog
  const CatalogEntry* accelerator_entry = nullptr;  // accelerators catalog
  const CatalogEntry* source_dest_entry = nullptr;  // destinations catalog, via source.country
  const CatalogEntry* region_entry = nullptr;       // regions catalog
  const CatalogEntry* region_dest_entry = nullptr;  // destinations catalog, via region.country
  const CatalogEntry* tenant_dest_entry = nullptr;  // destinations catalog, via tenant.country
  const CatalogEntry* parent_dest_entry = nullptr;  // destinations, via tenant.parent_country
  const CatalogEntry* model_entry = nullptr;        // frontier_models catalog
  const CatalogEntry* vendor_entry = nullptr;       // model_vendors catalog

  void Clear() {
    present.reset();
    source_addr = IpAddress{};
    format = Format::kAuto;
    origin = Origin{};
    repairs = 0;
    instance_entry = accelerator_entry = source_dest_entry = region_entry = region_dest_entry =
        tenant_dest_entry = parent_dest_entry = model_entry = vendor_entry = nullptr;
    instance_type_count = 0;
  }

  // Every instance type a call names (an EKS node group's instanceTypes, a fleet's overrides, a
  // cluster's node pools), in document order, without repeats; the decoder adds them and sets
  // instance.type to its primary one. Enrichment picks the first that is restricted. At most
  // kMaxInstanceTypes are kept (the rest are dropped: a call naming more is not realistic).
  static constexpr size_t kMaxInstanceTypes = 16;
  std::array<std::string_view, kMaxInstanceTypes> instance_types{};
  uint8_t instance_type_count = 0;
  void AddInstanceType(std::string_view type) {
    if (type.empty() || instance_type_count == kMaxInstanceTypes) return;
    for (size_t i = 0; i < instance_type_count; ++i) {
      if (instance_types[i] == type) return;
    }
    instance_types[instance_type_count++] = type;
  }

  bool Has(FieldId f) const { return present.test(static_cast<size_t>(f)); }
  std::string_view Str(FieldId f) const {
    return Has(f) ? str[static_cast<size_t>(f)] : std::string_view();
  }
  int64_t Num(FieldId f) const { return Has(f) ? num[static_cast<size_t>(f)] : 0; }

  void SetStr(FieldId f, std::string_view v) {
    str[static_cast<size_t>(f)] = v;
    present.set(static_cast<size_t>(f));
  }
  void SetNum(FieldId f, int64_t v) {
    num[static_cast<size_t>(f)] = v;
    present.set(static_cast<size_t>(f));
  }
  void SetBool(FieldId f, bool v) { SetNum(f, v ? 1 : 0); }
  void Unset(FieldId f) { present.reset(static_cast<size_t>(f)); }
};

// Parses RFC 3339 / ISO 8601 UTC timestamps ("2023-07-10T11:42:36Z", fractional seconds and
// "+hh:mm" offsets accepted; a space for the 'T', and BigQuery's " UTC" suffix too) into unix
// milliseconds. Returns nullopt on malformed input.
std::optional<int64_t> ParseTimestampMs(std::string_view text);
// The system clock in unix ms.
int64_t WallClockMs();
// Formats unix ms as RFC 3339 UTC with milliseconds: "2026-12-04T16:25:48.123Z".
std::string FormatTimestampMs(int64_t ms);
// The same into a caller's buffer, without allocating; the view points into `buf`.
using TimestampBuffer = std::array<char, 48>;
std::string_view FormatTimestampMs(int64_t ms, TimestampBuffer& buf);
// Parses "YYYY-MM-DD" (a catalog's effective date) into unix ms at 00:00 UTC.
std::optional<int64_t> ParseDateMs(std::string_view text);
// Parses a duration: a positive integer with s, m, h or d ("90s", "1h", "30d") into ms (rule
// windows, state.idle_flush). Nullopt when malformed or beyond 100,000,000 units.
std::optional<int64_t> ParseDurationMs(std::string_view text);

}  // namespace chipwatch
