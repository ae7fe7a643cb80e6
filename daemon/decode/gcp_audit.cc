// GCP Cloud Audit Logs LogEntry records with an AuditLog protoPayload (docs/formats/gcp_audit.md).
#include "decode/internal.h"

CHIPWATCH_DECODE_BEGIN

namespace {

constexpr std::string_view kAuditLogType = "type.googleapis.com/google.cloud.audit.AuditLog";
// How deep the search for machine and accelerator types goes below protoPayload.request (Vertex AI:
// request.customJob.jobSpec.workerPoolSpecs[].machineSpec.acceleratorType).
constexpr int kMaxRequestDepth = 8;

struct GcpScratch {
  std::string_view machine_type;
  std::string_view accelerator_type;
  int64_t accelerator_count = -1;
  // Cloud Quotas CreateQuotaPreference / UpdateQuotaPreference: quotaPreference.quotaId and its
  // gpu_family dimension (GPUS-PER-GPU-FAMILY-per-project-region, gpu_family NVIDIA_H100).
  std::string_view quota_id, gpu_family;
  std::string_view zone, location, region, project;
  std::string_view log_name;
  std::string_view response_name;
  int64_t status_code = 0;
  std::string_view status_message;
  bool severity_error = false;
  bool has_payload = false;
  // Vertex AI publisher model ("publishers/google/models/gemini-2.5-pro") from resourceName, else
  // request.model, else request.endpoint.
  std::string_view resource_model, request_model, request_endpoint_model;
};

// "projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514" ->
// "publishers/anthropic/models/claude-sonnet-4@20250514" (up to a ':' method suffix); "" when the
// text names no publisher model.
std::string_view PublisherModel(std::string_view s) {
  size_t at = s.find("publishers/");
  while (at != std::string_view::npos && at != 0 && s[at - 1] != '/') {
    at = s.find("publishers/", at + 1);
  }
  if (at == std::string_view::npos) return {};
  std::string_view model = s.substr(at);
  model = model.substr(0, model.find(':'));
  if (model.find("/models/") == std::string_view::npos) return {};
  return model;
}

// True for "us-central1-a" (a zone) as opposed to "us-central1" (a region).
bool LooksLikeZone(std::string_view s) {
  size_t dash = s.rfind('-');
  if (dash == std::string_view::npos || dash + 2 != s.size()) return false;
  char c = s.back();
  return c >= 'a' && c <= 'z' && s.find('-') < dash;
}

std::string_view RegionOfZone(std::string_view zone) { return zone.substr(0, zone.rfind('-')); }

bool WalkRequest(RecordContext& ctx, od::value& v, int depth, GcpScratch& s);

// One object of the request: machineType / acceleratorType / acceleratorCount are read as a group,
// so that a count belongs to the accelerator type written next to it.
bool WalkRequestObject(RecordContext& ctx, od::object& object, int depth, GcpScratch& s) {
  std::string_view accelerator_type;
  int64_t accelerator_count = -1;
  bool ok = ForEachField(ctx, object, [&](std::string_view key, od::value& v) {
    if (depth == 0 && (key == "model" || key == "endpoint")) {
      if (auto t = AsString(v)) {
        (key == "model" ? s.request_model : s.request_endpoint_model) = PublisherModel(*t);
      }
      return true;
    }
    if (key == "machineType") {
      if (auto t = AsString(v)) {
        if (s.machine_type.empty()) s.machine_type = LastSegment(*t);
        NoteInstanceType(ctx, LastSegment(*t));  // a cluster's node pools may name several
      }
      return true;
    }
    // Cloud TPU: node.acceleratorConfig {type: V5P, topology: 2x2x1} instead of acceleratorType.
    if (key == "acceleratorConfig") {
      od::object config;
      if (!AsObject(v, config)) return true;
      return ForEachField(ctx, config, [&](std::string_view k, od::value& value) {
        if (k == "type" && accelerator_type.empty()) {
          if (auto t = AsString(value)) accelerator_type = *t;
        }
        return true;
      });
    }
    if (key == "acceleratorType") {
      if (auto t = AsString(v)) accelerator_type = LastSegment(*t);
      return true;
    }
    if (key == "quotaId") {
      if (auto id = AsString(v); id && s.quota_id.empty()) s.quota_id = *id;
      return true;
    }
    if (key == "gpu_family") {
      if (auto family = AsString(v); family && s.gpu_family.empty()) s.gpu_family = *family;
      return true;
    }
    if (key == "acceleratorCount") {
      if (auto n = AsCount(v)) accelerator_count = *n;
      return true;
    }
    return WalkRequest(ctx, v, depth + 1, s);
  });
  // CPU-only pools say ACCELERATOR_TYPE_UNSPECIFIED / count 0.
  if (ok && s.accelerator_type.empty() && !accelerator_type.empty() &&
      accelerator_type != "ACCELERATOR_TYPE_UNSPECIFIED" && accelerator_count != 0) {
    s.accelerator_type = accelerator_type;
    s.accelerator_count = accelerator_count;
  }
  return ok;
}

bool WalkRequest(RecordContext& ctx, od::value& v, int depth, GcpScratch& s) {
  return WalkTree(ctx, v, depth, kMaxRequestDepth,
                  [&](od::object& object, int d) { return WalkRequestObject(ctx, object, d, s); });
}

bool ReadStringFields(
    RecordContext& ctx, od::value& v,
    std::initializer_list<std::pair<std::string_view, std::string_view*>> wanted) {
  od::object object;
  if (!AsObject(v, object)) return true;
  return ForEachField(ctx, object, [&](std::string_view key, od::value& value) {
    for (const auto& [name, out] : wanted) {
      if (key == name) {
        if (auto str = AsString(value)) *out = *str;
        break;
      }
    }
    return true;
  });
}

// A request given as a JSON document inside a string (BigQuery's requestJson): walked with the
// nested parser; what is kept is copied into the arena (the nested parser is reused). A string that
// is not valid JSON is ignored, not an error.
void WalkRequestJson(RecordContext& ctx, std::string_view text, GcpScratch& s) {
  GcpScratch nested;
  if (!WalkJsonString(ctx, text, [&](od::value& root, RecordContext& nested_ctx) {
        return WalkRequest(nested_ctx, root, 0, nested);
      })) {
    return;
  }
  if (s.machine_type.empty() && !nested.machine_type.empty()) {
    s.machine_type = ctx.arena.Copy(nested.machine_type);
  }
  if (s.accelerator_type.empty() && !nested.accelerator_type.empty()) {
    s.accelerator_type = ctx.arena.Copy(nested.accelerator_type);
    s.accelerator_count = nested.accelerator_count;
  }
  if (s.quota_id.empty() && !nested.quota_id.empty()) s.quota_id = ctx.arena.Copy(nested.quota_id);
  if (s.gpu_family.empty() && !nested.gpu_family.empty()) {
    s.gpu_family = ctx.arena.Copy(nested.gpu_family);
  }
  if (s.request_model.empty() && !nested.request_model.empty()) {
    s.request_model = ctx.arena.Copy(nested.request_model);
  }
  if (s.request_endpoint_model.empty() && !nested.request_endpoint_model.empty()) {
    s.request_endpoint_model = ctx.arena.Copy(nested.request_endpoint_model);
  }
}

// protoPayload.@type: anything but the AuditLog type fails the record.
bool CheckPayloadType(RecordContext& ctx, od::value& v) {
  auto t = AsString(v);
  if (!t || *t != kAuditLogType) {
    return ctx.WrongType("protoPayload.@type", "type.googleapis.com/google.cloud.audit.AuditLog");
  }
  return true;
}

// protoPayload.status: {code, message} (code 0 or absent: success).
bool ReadStatus(RecordContext& ctx, od::value& v, GcpScratch& s) {
  od::object status;
  if (!AsObject(v, status)) return true;
  return ForEachField(ctx, status, [&](std::string_view k, od::value& sv) {
    if (k == "code") {
      int64_t code;
      if (!sv.get_int64().get(code)) s.status_code = code;
    } else if (k == "message") {
      if (auto m = AsString(sv)) s.status_message = *m;
    }
    return true;
  });
}

// protoPayload.requestMetadata: source.ip and user_agent.
bool ReadRequestMetadata(RecordContext& ctx, od::value& v) {
  std::string_view ip, agent;
  if (!ReadStringFields(ctx, v, {{"callerIp", &ip}, {"callerSuppliedUserAgent", &agent}})) {
    return false;
  }
  if (!ip.empty()) SetSourceIp(ctx.event, ip);
  if (!agent.empty()) ctx.event.SetStr(FieldId::kUserAgent, agent);
  return true;
}

// protoPayload.authenticationInfo: principal (principalEmail, else principalSubject).
bool ReadAuthenticationInfo(RecordContext& ctx, od::value& v) {
  std::string_view email, subject;
  if (!ReadStringFields(ctx, v, {{"principalEmail", &email}, {"principalSubject", &subject}})) {
    return false;
  }
  if (!email.empty()) {
    ctx.event.SetStr(FieldId::kPrincipal, email);
  } else if (!subject.empty()) {
    ctx.event.SetStr(FieldId::kPrincipal, subject);
  }
  return true;
}

// One field of protoPayload, dispatched on the key's length.
bool ReadPayloadField(RecordContext& ctx, std::string_view key, od::value& value, GcpScratch& s) {
  Event& event = ctx.event;
  switch (key.size()) {
    case 5:
      if (key == "@type") return CheckPayloadType(ctx, value);
      break;
    case 6:
      if (key == "status") return ReadStatus(ctx, value, s);
      break;
    case 7:
      if (key == "request") return WalkRequest(ctx, value, 0, s);
      break;
    case 11:
      // BigQuery exports (protopayload_auditlog) carry the request as a JSON string.
      if (key == "requestJson") {
        if (auto text = AsString(value)) WalkRequestJson(ctx, *text, s);
        return true;
      }
      if (key == "serviceName") {
        if (auto n = AsString(value)) event.SetStr(FieldId::kEventSource, *n);
      }
      break;
    case 8:
      if (key == "response") {
        return ReadStringFields(ctx, value, {{"name", &s.response_name}});
      }
      break;
    case 10:
      if (key == "methodName") {
        auto m = RequireString(ctx, value, "protoPayload.methodName");
        if (!m) return false;
        event.SetStr(FieldId::kAction, *m);
      }
      break;
    case 12:
      if (key == "resourceName") {
        if (auto n = AsString(value)) {
          event.SetStr(FieldId::kResourceName, *n);
          s.resource_model = PublisherModel(*n);
        }
      }
      break;
    case 15:
      if (key == "requestMetadata") return ReadRequestMetadata(ctx, value);
      break;
    case 18:
      if (key == "authenticationInfo") return ReadAuthenticationInfo(ctx, value);
      break;
    default:
      break;
  }
  return true;
}

bool ReadPayload(RecordContext& ctx, od::value& v, GcpScratch& s) {
  od::object payload;
  if (!AsObject(v, payload)) return ctx.WrongType("protoPayload", "an object");
  s.has_payload = true;
  return ForEachField(ctx, payload, [&](std::string_view key, od::value& value) {
    return ReadPayloadField(ctx, key, value, s);
  });
}

bool ReadResource(RecordContext& ctx, od::value& v, GcpScratch& s) {
  od::object resource;
  if (!AsObject(v, resource)) return true;
  return ForEachField(ctx, resource, [&](std::string_view key, od::value& value) {
    if (key != "labels") return true;
    return ReadStringFields(ctx, value,
                            {{"project_id", &s.project},
                             {"zone", &s.zone},
                             {"location", &s.location},
                             {"region", &s.region}});
  });
}

// One top-level field of the LogEntry, dispatched on the key's length.
bool ReadRecordField(RecordContext& ctx, std::string_view key, od::value& v, GcpScratch& s) {
  switch (key.size()) {
    case 7:
      if (key == "logName") s.log_name = AsString(v).value_or(std::string_view());
      break;
    case 8:
      if (key == "insertId") {
        if (!ReadEventId(ctx, v, "insertId")) return false;
      } else if (key == "resource") {
        return ReadResource(ctx, v, s);
      } else if (key == "severity") {
        auto sev = AsString(v);
        s.severity_error = sev && (*sev == "ERROR" || *sev == "CRITICAL" || *sev == "ALERT" ||
                                   *sev == "EMERGENCY");
      }
      break;
    case 9:
      if (key == "timestamp") {
        return ReadTime(ctx, v, "timestamp");
      }
      break;
    case 12:
      if (key == "protoPayload") return ReadPayload(ctx, v, s);
      break;
    case 21:  // the same payload in a BigQuery export
      if (key == "protopayload_auditlog") return ReadPayload(ctx, v, s);
      break;
    default:
      break;
  }
  return true;
}

// account and tenant (the project: resource label, else logName's), zone and region.
void SetPlacementFields(Event& event, GcpScratch& s) {
  if (s.project.empty() && StartsWith(s.log_name, "projects/")) {
    std::string_view rest = s.log_name.substr(9);
    s.project = rest.substr(0, rest.find('/'));
  }
  if (!s.project.empty()) {
    event.SetStr(FieldId::kAccount, s.project);
    event.SetStr(FieldId::kTenant, s.project);
  }
  if (s.zone.empty() && LooksLikeZone(s.location)) s.zone = s.location;
  if (!s.zone.empty()) {
    event.SetStr(FieldId::kZone, s.zone);
    event.SetStr(FieldId::kRegion, RegionOfZone(s.zone));
  } else if (!s.region.empty()) {
    event.SetStr(FieldId::kRegion, s.region);
  } else if (!s.location.empty() && s.location != "global") {
    event.SetStr(FieldId::kRegion, s.location);
  }
}

// instance.type, accelerator model and count, and a quota request's quota.code (whose GPUs stand
// in for the accelerator model when the request names none).
void SetMachineFields(Event& event, const GcpScratch& s) {
  if (!s.machine_type.empty()) event.SetStr(FieldId::kInstanceType, s.machine_type);
  if (!s.accelerator_type.empty()) {
    event.SetStr(FieldId::kAcceleratorModel, s.accelerator_type);
    if (s.accelerator_count > 0) event.SetNum(FieldId::kAcceleratorCount, s.accelerator_count);
  }
  if (!s.quota_id.empty()) {
    event.SetStr(FieldId::kQuotaCode, s.quota_id);
    // The GPUs a quota covers: the unified quota's gpu_family dimension (NVIDIA_H100), or a
    // per-model quota's id (NVIDIA-L4-GPUS-per-project-region, PREEMPTIBLE-NVIDIA-...).
    if (s.accelerator_type.empty()) {
      if (!s.gpu_family.empty()) {
        event.SetStr(FieldId::kAcceleratorModel, s.gpu_family);
      } else if (StartsWith(s.quota_id, "NVIDIA-") ||
                 s.quota_id.find("-NVIDIA-") != std::string_view::npos) {
        event.SetStr(FieldId::kAcceleratorModel, s.quota_id);
      }
    }
  }
}

// model.id (resourceName, else request.model, else request.endpoint) and a new job's job.id.
void SetModelAndJob(Event& event, const GcpScratch& s) {
  for (std::string_view model : {s.resource_model, s.request_model, s.request_endpoint_model}) {
    if (!model.empty()) {
      event.SetStr(FieldId::kModelId, model);
      break;
    }
  }
  // Vertex AI and other job APIs return the new job's resource name.
  if (s.response_name.find("Jobs/") != std::string_view::npos ||
      s.response_name.find("/trainingPipelines/") != std::string_view::npos) {
    event.SetStr(FieldId::kJobId, s.response_name);
  }
}

}  // namespace

bool DecodeGcpAudit(od::object& record, RecordContext& ctx) {
  Event& event = ctx.event;
  GcpScratch s;
  bool ok = ForEachField(ctx, record, [&](std::string_view key, od::value& v) {
    return ReadRecordField(ctx, key, v, s);
  });
  if (!ok) return false;
  if (!s.has_payload) return ctx.MissingField("protoPayload");
  if (!event.Has(FieldId::kAction)) return ctx.MissingField("protoPayload.methodName");

  bool failed = s.status_code != 0 || s.severity_error;
  SetOutcome(event, failed);
  if (s.status_code != 0) event.SetStr(FieldId::kErrorCode, NumberText(ctx.arena, s.status_code));
  if (failed && !s.status_message.empty()) event.SetStr(FieldId::kErrorMessage, s.status_message);

  SetPlacementFields(event, s);
  SetMachineFields(event, s);
  SetModelAndJob(event, s);
  return true;
}

CHIPWATCH_DECODE_END
