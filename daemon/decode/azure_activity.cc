// Azure Activity Log records: the diagnostic-settings export (storage / Event Hub) and the REST
// EventData shape (docs/formats/azure_activity.md). Keys are matched case-insensitively because
// exports differ in case (operationName / OperationName, requestbody / requestBody).
#include "decode/internal.h"

CHIPWATCH_DECODE_BEGIN

namespace {

constexpr int kMaxBodyDepth = 8;

struct AzureScratch {
  std::string_view caller, upn, claim_name, name_claim, appid;
  std::string_view ip, http_ip;
  std::string_view location;
  std::string_view body_location;
  std::string_view vm_size;
  int vm_size_depth = 1 << 30;
  std::string_view sku_name;
  // A Cognitive Services (Azure OpenAI / Foundry) deployment's properties.model {format, name}.
  std::string_view model_format, model_name;
  std::string_view provider;
  // Log Analytics' AzureActivity table: OperationName is localized ("Create or Update Virtual
  // Machine"); the operation itself is in OperationNameValue.
  std::string_view operation_name_value;
  std::string_view resource_id;
  std::string_view subscription;
  std::string_view result_type, result_signature, status_value, status_code, status_message;
  std::string_view event_timestamp;
};

// A string, or `{"value": "...", "localizedValue": "..."}` as in the REST shape.
std::optional<std::string_view> StringOrValue(od::value& v) {
  od::json_type type;
  if (v.type().get(type)) return std::nullopt;
  if (type == od::json_type::string) return AsString(v);
  od::object object;
  if (type != od::json_type::object || !AsObject(v, object)) return std::nullopt;
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field)) return std::nullopt;
    if (EqualsLower(KeyOf(field), "value")) return AsString(field.value());
  }
  return std::nullopt;
}

bool ReadClaims(RecordContext& ctx, od::value& v, AzureScratch& s) {
  od::object claims;
  if (!AsObject(v, claims)) return true;
  return ForEachField(ctx, claims, [&](std::string_view key, od::value& value) {
    if (key == "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn") {
      s.upn = AsString(value).value_or(s.upn);
    } else if (key == "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name") {
      s.claim_name = AsString(value).value_or(s.claim_name);
    } else if (key == "name") {
      s.name_claim = AsString(value).value_or(s.name_claim);
    } else if (key == "appid") {
      s.appid = AsString(value).value_or(s.appid);
    }
    return true;
  });
}

bool ReadIdentity(RecordContext& ctx, od::value& v, AzureScratch& s) {
  od::object identity;
  if (!AsObject(v, identity)) return true;
  return ForEachField(ctx, identity, [&](std::string_view key, od::value& value) {
    if (EqualsLower(key, "claims")) return ReadClaims(ctx, value, s);
    return true;
  });
}

bool WalkBody(RecordContext& ctx, od::value& v, int depth, AzureScratch& s);

// Reads a request body (the resource's ARM PUT/PATCH body): `location`, any `vmSize`
// (VM hardwareProfile, AML compute properties.properties, AKS agent pools) and top-level `sku.name`
// (virtual machine scale sets).
bool WalkBodyObject(RecordContext& ctx, od::object& object, int depth, AzureScratch& s) {
  return ForEachField(ctx, object, [&](std::string_view key, od::value& value) {
    if (EqualsLower(key, "vmsize")) {
      if (auto size = AsString(value)) {
        if (depth < s.vm_size_depth) {
          s.vm_size = *size;
          s.vm_size_depth = depth;
        }
        NoteInstanceType(ctx, *size);  // an AKS cluster's agent pools may name several
      }
      return true;
    }
    if (depth == 0 && EqualsLower(key, "location")) {
      if (auto l = AsString(value)) s.body_location = *l;
      return true;
    }
    if (depth == 1 && EqualsLower(key, "model") && s.model_name.empty()) {
      od::object model;
      if (!AsObject(value, model)) return true;
      return ForEachField(ctx, model, [&](std::string_view k, od::value& m) {
        if (EqualsLower(k, "name")) s.model_name = AsString(m).value_or(s.model_name);
        if (EqualsLower(k, "format")) s.model_format = AsString(m).value_or(s.model_format);
        return true;
      });
    }
    if (depth == 0 && EqualsLower(key, "sku")) {
      od::object sku;
      if (!AsObject(value, sku)) return true;
      return ForEachField(ctx, sku, [&](std::string_view k, od::value& name) {
        if (EqualsLower(k, "name")) s.sku_name = AsString(name).value_or(s.sku_name);
        return true;
      });
    }
    return WalkBody(ctx, value, depth + 1, s);
  });
}

bool WalkBody(RecordContext& ctx, od::value& v, int depth, AzureScratch& s) {
  return WalkTree(ctx, v, depth, kMaxBodyDepth,
                  [&](od::object& object, int d) { return WalkBodyObject(ctx, object, d, s); });
}

// The request body is usually a JSON document inside a string: it is unescaped by simdjson, copied
// into a padded buffer and walked with the nested parser. A body that is not valid JSON (Azure
// truncates long ones) is ignored rather than failing the record.
void ReadBodyString(RecordContext& ctx, std::string_view text, AzureScratch& s) {
  AzureScratch nested;
  if (!WalkJsonString(ctx, text, [&](od::value& root, RecordContext& nested_ctx) {
        od::object object;
        return AsObject(root, object) && WalkBodyObject(nested_ctx, object, 0, nested);
      })) {
    return;
  }
  if (!nested.vm_size.empty()) s.vm_size = ctx.arena.Copy(nested.vm_size);
  if (!nested.body_location.empty()) s.body_location = ctx.arena.Copy(nested.body_location);
  if (!nested.sku_name.empty()) s.sku_name = ctx.arena.Copy(nested.sku_name);
  if (!nested.model_name.empty()) s.model_name = ctx.arena.Copy(nested.model_name);
  if (!nested.model_format.empty()) s.model_format = ctx.arena.Copy(nested.model_format);
}

bool ReadProperties(RecordContext& ctx, od::value& v, AzureScratch& s) {
  od::object properties;
  if (!AsObject(v, properties)) return true;
  return ForEachField(ctx, properties, [&](std::string_view key, od::value& value) {
    if (EqualsLower(key, "requestbody")) {
      od::json_type type;
      if (value.type().get(type)) return true;
      if (type == od::json_type::string) {
        if (auto text = AsString(value)) ReadBodyString(ctx, *text, s);
        return true;
      }
      return WalkBody(ctx, value, 0, s);  // some exports already hold it as an object
    }
    if (EqualsLower(key, "statuscode")) {
      od::json_type type;
      if (value.type().get(type)) return true;
      if (type == od::json_type::number) {
        int64_t code;
        if (!value.get_int64().get(code)) s.status_code = NumberText(ctx.arena, code);
      } else {
        s.status_code = AsString(value).value_or(s.status_code);
      }
    } else if (EqualsLower(key, "statusmessage")) {
      s.status_message = AsString(value).value_or(s.status_message);
    }
    return true;
  });
}

bool ReadHttpRequest(RecordContext& ctx, od::value& v, AzureScratch& s) {
  od::object request;
  if (!AsObject(v, request)) return true;
  return ForEachField(ctx, request, [&](std::string_view key, od::value& value) {
    if (EqualsLower(key, "clientipaddress")) s.http_ip = AsString(value).value_or(s.http_ip);
    return true;
  });
}

// HTTP status names and numbers (as text) that mean the request failed.
bool IsFailureStatus(std::string_view code) {
  if (code.size() == 3 && (code[0] == '4' || code[0] == '5')) return true;
  static constexpr std::string_view kFailures[] = {
      "badrequest", "unauthorized",       "forbidden",       "notfound",
      "conflict",   "preconditionfailed", "toomanyrequests", "internalservererror",
      "badgateway", "serviceunavailable", "gatewaytimeout",  "methodnotallowed"};
  for (auto f : kFailures) {
    if (EqualsLower(code, f)) return true;
  }
  return false;
}

// "/subscriptions/<id>/resourceGroups/..." -> <id>, any case.
std::string_view SubscriptionOf(std::string_view resource_id) {
  constexpr std::string_view kPrefix = "/subscriptions/";
  if (resource_id.size() <= kPrefix.size() ||
      !EqualsLower(resource_id.substr(0, kPrefix.size()), kPrefix)) {
    return {};
  }
  std::string_view rest = resource_id.substr(kPrefix.size());
  return rest.substr(0, rest.find('/'));
}

// One top-level field of the record, dispatched on the key's length (keys match in any case).
bool ReadRecordField(RecordContext& ctx, std::string_view key, od::value& v, AzureScratch& s) {
  switch (key.size()) {
    case 4:
      if (EqualsLower(key, "time")) {
        return ReadTime(ctx, v, "time");
      }
      break;
    case 6:
      if (EqualsLower(key, "caller")) s.caller = AsString(v).value_or(s.caller);
      if (EqualsLower(key, "claims")) return ReadClaims(ctx, v, s);
      if (EqualsLower(key, "status")) s.status_value = StringOrValue(v).value_or(s.status_value);
      break;
    case 8:
      if (EqualsLower(key, "identity")) return ReadIdentity(ctx, v, s);
      if (EqualsLower(key, "claims_d")) return ReadClaims(ctx, v, s);  // Log Analytics
      if (EqualsLower(key, "location")) s.location = AsString(v).value_or(s.location);
      break;
    case 10:
      if (EqualsLower(key, "resourceid")) s.resource_id = AsString(v).value_or(s.resource_id);
      if (EqualsLower(key, "resulttype")) s.result_type = AsString(v).value_or(s.result_type);
      if (EqualsLower(key, "properties")) return ReadProperties(ctx, v, s);
      break;
    case 11:
      if (EqualsLower(key, "httprequest")) return ReadHttpRequest(ctx, v, s);
      break;
    case 13:
      if (EqualsLower(key, "operationname")) {
        auto name = StringOrValue(v);
        if (!name) return ctx.WrongType("operationName", "a string or {\"value\": string}");
        ctx.event.SetStr(FieldId::kAction, *name);
      } else if (EqualsLower(key, "correlationid")) {
        return ReadEventId(ctx, v, "correlationId");
      } else if (EqualsLower(key, "timegenerated")) {
        s.event_timestamp = AsString(v).value_or(s.event_timestamp);
      }
      break;
    case 14:
      if (EqualsLower(key, "eventtimestamp")) {
        s.event_timestamp = AsString(v).value_or(s.event_timestamp);
      } else if (EqualsLower(key, "subscriptionid")) {
        s.subscription = AsString(v).value_or(s.subscription);
      }
      break;
    case 12:
      if (EqualsLower(key, "properties_d")) return ReadProperties(ctx, v, s);  // Log Analytics
      break;
    case 15:
      if (EqualsLower(key, "calleripaddress")) s.ip = AsString(v).value_or(s.ip);
      if (EqualsLower(key, "resultsignature")) {
        s.result_signature = AsString(v).value_or(s.result_signature);
      }
      break;
    case 18:
      if (EqualsLower(key, "operationnamevalue")) {
        s.operation_name_value = AsString(v).value_or(s.operation_name_value);
      }
      break;
    case 20:
      if (EqualsLower(key, "resourceprovidername")) {
        s.provider = StringOrValue(v).value_or(s.provider);
      }
      break;
    default:
      break;
  }
  return true;
}

// event.source (resourceProviderName, else the action's provider prefix), account/tenant (the
// subscription), resource.name and a quota request's quota.code, from the resource id.
void SetResourceFields(Event& event, std::string_view action, AzureScratch& s) {
  if (s.provider.empty()) s.provider = action.substr(0, action.find('/'));
  if (!s.provider.empty()) event.SetStr(FieldId::kEventSource, s.provider);

  if (s.subscription.empty()) s.subscription = SubscriptionOf(s.resource_id);
  if (!s.subscription.empty()) {
    event.SetStr(FieldId::kAccount, s.subscription);
    event.SetStr(FieldId::kTenant, s.subscription);
  }
  if (!s.resource_id.empty()) {
    std::string_view id = s.resource_id;
    while (!id.empty() && id.back() == '/') id.remove_suffix(1);
    if (!LastSegment(id).empty()) event.SetStr(FieldId::kResourceName, LastSegment(id));
    // A quota request (Microsoft.Quota/quotas/write) names the VM family's quota by resource:
    // .../providers/Microsoft.Quota/quotas/standardNDSH100v5Family.
    if (ContainsLower(id, "/providers/microsoft.quota/quotas/") && !LastSegment(id).empty()) {
      event.SetStr(FieldId::kQuotaCode, LastSegment(id));
    }
  }
}

// principal (the first of caller, upn, name claims, appid) and source.ip.
void SetCallerFields(Event& event, const AzureScratch& s) {
  for (std::string_view p : {s.caller, s.upn, s.claim_name, s.name_claim, s.appid}) {
    if (!p.empty()) {
      event.SetStr(FieldId::kPrincipal, p);
      break;
    }
  }
  if (!s.ip.empty()) {
    SetSourceIp(event, s.ip);
  } else if (!s.http_ip.empty()) {
    SetSourceIp(event, s.http_ip);
  }
}

// region (the body's location, else the record's unless "global") and instance.type (vmSize,
// else a scale set's sku.name).
void SetPlacementFields(Event& event, std::string_view action, const AzureScratch& s) {
  if (!s.body_location.empty()) {
    event.SetStr(FieldId::kRegion, s.body_location);
  } else if (!s.location.empty() && !EqualsLower(s.location, "global")) {
    event.SetStr(FieldId::kRegion, s.location);
  }
  if (!s.vm_size.empty()) {
    event.SetStr(FieldId::kInstanceType, s.vm_size);
  } else if (!s.sku_name.empty() && (ContainsLower(action, "virtualmachinescalesets") ||
                                     ContainsLower(s.resource_id, "virtualmachinescalesets"))) {
    event.SetStr(FieldId::kInstanceType, s.sku_name);
    event.AddInstanceType(s.sku_name);
  }
}

// Deployments of a Cognitive Services account name their model: "OpenAI/gpt-4o".
void SetModelId(RecordContext& ctx, std::string_view action, const AzureScratch& s) {
  if (s.model_name.empty() || !ContainsLower(action, "microsoft.cognitiveservices/")) return;
  if (s.model_format.empty()) {
    ctx.event.SetStr(FieldId::kModelId, s.model_name);
    return;
  }
  const size_t n = s.model_format.size() + 1 + s.model_name.size();
  char* out = ctx.arena.Allocate(n);
  std::memcpy(out, s.model_format.data(), s.model_format.size());
  out[s.model_format.size()] = '/';
  std::memcpy(out + s.model_format.size() + 1, s.model_name.data(), s.model_name.size());
  ctx.event.SetStr(FieldId::kModelId, std::string_view(out, n));
}

// outcome from resultType / status / resultSignature / statusCode; a failure's error code and
// message.
void SetOutcomeFields(Event& event, const AzureScratch& s) {
  bool failed = EqualsLower(s.result_type, "failure") || EqualsLower(s.result_type, "failed") ||
                EqualsLower(s.status_value, "failed") || EqualsLower(s.status_value, "failure") ||
                StartsWith(s.result_signature, "Failed") || IsFailureStatus(s.status_code);
  SetOutcome(event, failed);
  if (failed) {
    std::string_view code = !s.status_code.empty() ? s.status_code : s.result_signature;
    if (!code.empty()) event.SetStr(FieldId::kErrorCode, code);
    if (!s.status_message.empty()) event.SetStr(FieldId::kErrorMessage, s.status_message);
  }
}

}  // namespace

bool DecodeAzureActivity(od::object& record, RecordContext& ctx) {
  Event& event = ctx.event;
  AzureScratch s;
  bool ok = ForEachField(ctx, record, [&](std::string_view key, od::value& v) {
    return ReadRecordField(ctx, key, v, s);
  });
  if (!ok) return false;
  if (!s.operation_name_value.empty()) event.SetStr(FieldId::kAction, s.operation_name_value);
  if (!event.Has(FieldId::kAction)) return ctx.MissingField("operationName");
  if (!event.Has(FieldId::kEventTime) && !s.event_timestamp.empty()) {
    SetTime(ctx, s.event_timestamp);
  }

  std::string_view action = event.Str(FieldId::kAction);
  SetResourceFields(event, action, s);
  SetCallerFields(event, s);
  SetPlacementFields(event, action, s);
  SetModelId(ctx, action, s);
  SetOutcomeFields(event, s);
  return true;
}

CHIPWATCH_DECODE_END
