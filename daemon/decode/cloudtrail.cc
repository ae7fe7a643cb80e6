// AWS CloudTrail records (docs/formats/cloudtrail.md).
#include "decode/internal.h"

CHIPWATCH_DECODE_BEGIN

namespace {

// How deep the search for instance types goes below requestParameters (CreateFleet puts them at
// requestParameters.CreateFleetRequest.LaunchTemplateConfigs.Overrides[].InstanceType).
constexpr int kMaxParameterDepth = 8;

// Values gathered from requestParameters / responseElements, resolved after the whole record.
struct Found {
  std::string_view value;
  int depth = 1 << 30;  // shallowest wins; ties go to the first in document order
  void Offer(std::string_view v, int d) {
    if (!v.empty() && d < depth) {
      value = v;
      depth = d;
    }
  }
};

struct CloudTrailScratch {
  Found instance_type;  // requestParameters ... instanceType / InstanceType
  Found instance_id;    // requestParameters ... instanceId
  Found response_type;  // responseElements.instancesSet.items[0].instanceType
  Found response_id;    // responseElements.instancesSet.items[0].instanceId
  std::string_view job_name;
  std::string_view account_from_identity;
  std::string_view arn, principal_id, user_name, invoked_by;
  std::string_view detail_type;  // an EventBridge event's detail-type
  bool failed = false;           // the record has an errorCode
};

bool IsJobNameKey(std::string_view key) {
  return key == "trainingJobName" || key == "processingJobName" || key == "transformJobName" ||
         key == "hyperParameterTuningJobName" || key == "compilationJobName" ||
         key == "autoMLJobName" || key == "modelInvocationJobName" || key == "jobName";
}

// A string, or `{"value": "..."}` as ModifyInstanceAttribute writes it.
std::optional<std::string_view> StringOrValue(od::value& v) {
  od::json_type type;
  if (v.type().get(type)) return std::nullopt;
  if (type == od::json_type::string) return AsString(v);
  if (type != od::json_type::object) return std::nullopt;
  od::object object;
  if (!AsObject(v, object)) return std::nullopt;
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field)) return std::nullopt;
    if (KeyOf(field) == "value") return AsString(field.value());
  }
  return std::nullopt;
}

bool WalkParameters(RecordContext& ctx, od::value& v, int depth, CloudTrailScratch& s);

bool WalkParameterObject(RecordContext& ctx, od::object& object, int depth, CloudTrailScratch& s) {
  return ForEachField(ctx, object, [&](std::string_view key, od::value& v) {
    if (key == "instanceType" || key == "InstanceType") {
      if (auto t = StringOrValue(v)) {
        s.instance_type.Offer(*t, depth);
        NoteInstanceType(ctx, *t);
      }
      return true;
    }
    // EKS CreateNodegroup / UpdateNodegroupVersion, SageMaker HyperPod: a list of types.
    if (key == "instanceTypes" || key == "InstanceTypes") {
      od::array types;
      if (!AsArray(v, types)) return WalkParameters(ctx, v, depth + 1, s);
      return ForEachElement(ctx, types, [&](size_t, od::value& e) {
        if (auto t = StringOrValue(e)) {
          s.instance_type.Offer(*t, depth);
          NoteInstanceType(ctx, *t);
        }
        return true;
      });
    }
    if (key == "instanceId" || key == "InstanceId") {
      if (auto id = AsString(v)) s.instance_id.Offer(*id, depth);
      return true;
    }
    if (depth == 0) {
      if (key == "modelId") {
        if (auto id = AsString(v)) ctx.event.SetStr(FieldId::kModelId, *id);
        return true;
      }
      // Service Quotas RequestServiceQuotaIncrease (the API's QuotaCode; CloudTrail's camelCase).
      if (key == "quotaCode" || key == "QuotaCode") {
        if (auto code = AsString(v)) ctx.event.SetStr(FieldId::kQuotaCode, *code);
        return true;
      }
      if (IsJobNameKey(key)) {
        if (auto name = AsString(v)) s.job_name = *name;
        return true;
      }
    }
    return WalkParameters(ctx, v, depth + 1, s);
  });
}

// Visits objects and arrays below requestParameters, looking for instance types and ids.
bool WalkParameters(RecordContext& ctx, od::value& v, int depth, CloudTrailScratch& s) {
  return WalkTree(ctx, v, depth, kMaxParameterDepth, [&](od::object& object, int d) {
    return WalkParameterObject(ctx, object, d, s);
  });
}

// responseElements.instancesSet.items[0].{instanceType,instanceId}: the only place a launch from a
// launch template names its instance type. The rest of the (large) response is skipped.
bool ReadResponse(RecordContext& ctx, od::value& v, CloudTrailScratch& s) {
  od::object response;
  if (!AsObject(v, response)) return true;  // null for most calls
  return ForEachField(ctx, response, [&](std::string_view key, od::value& set) {
    if (key != "instancesSet") return true;
    od::object set_object;
    if (!AsObject(set, set_object)) return true;
    return ForEachField(ctx, set_object, [&](std::string_view set_key, od::value& items) {
      od::array array;
      if (set_key != "items" || !AsArray(items, array)) return true;
      for (auto item_result : array) {
        od::value item;
        od::object object;
        if (auto e = std::move(item_result).get(item)) return ctx.FailJson(e, "responseElements");
        if (!AsObject(item, object)) break;
        return ForEachField(ctx, object, [&](std::string_view item_key, od::value& value) {
          if (item_key == "instanceType") {
            if (auto t = AsString(value)) {
              s.response_type.Offer(*t, 0);
              NoteInstanceType(ctx, *t);
            }
          } else if (item_key == "instanceId") {
            if (auto id = AsString(value)) s.response_id.Offer(*id, 0);
          }
          return true;
        });
      }
      return true;
    });
  });
}

bool ReadUserIdentity(RecordContext& ctx, od::value& v, CloudTrailScratch& s) {
  od::object identity;
  if (!AsObject(v, identity)) return true;
  return ForEachField(ctx, identity, [&](std::string_view key, od::value& value) {
    switch (key.size()) {
      case 3:
        if (key == "arn") s.arn = AsString(value).value_or(std::string_view());
        break;
      case 4:
        if (key == "type") {
          if (auto t = AsString(value)) ctx.event.SetStr(FieldId::kPrincipalType, *t);
        }
        break;
      case 8:
        if (key == "userName") s.user_name = AsString(value).value_or(std::string_view());
        break;
      case 9:
        if (key == "accountId") {
          s.account_from_identity = AsString(value).value_or(std::string_view());
        } else if (key == "invokedBy") {
          s.invoked_by = AsString(value).value_or(std::string_view());
        }
        break;
      case 11:
        if (key == "principalId") s.principal_id = AsString(value).value_or(std::string_view());
        break;
      default:
        break;
    }
    return true;
  });
}

bool ReadAdditionalData(RecordContext& ctx, od::value& v) {
  od::object data;
  if (!AsObject(v, data)) return true;
  return ForEachField(ctx, data, [&](std::string_view key, od::value& value) {
    if (key == "inferenceRegion") {
      if (auto r = AsString(value)) ctx.event.SetStr(FieldId::kInferenceRegion, *r);
    }
    return true;
  });
}

// Required-when-present string: wrong type fails the record.
bool RequiredString(RecordContext& ctx, od::value& v, std::string_view name, FieldId id) {
  auto s = RequireString(ctx, v, name);
  if (!s) return false;
  ctx.event.SetStr(id, *s);
  return true;
}

// One top-level field of the record, dispatched on the key's length.
bool ReadRecordField(RecordContext& ctx, std::string_view key, od::value& v, CloudTrailScratch& s) {
  Event& event = ctx.event;
  switch (key.size()) {
    case 6:
      // An EventBridge event: the record is its `detail` (ctx.unwrap; the caller decodes it).
      if (key == "detail") {
        od::object detail;
        if (AsObject(v, detail) && !detail.raw_json().get(ctx.unwrap)) return true;
        ctx.unwrap = {};
      }
      break;
    case 7:
      if (key == "eventID") return ReadEventId(ctx, v, "eventID");
      break;
    case 9:
      if (key == "eventName") return RequiredString(ctx, v, "eventName", FieldId::kAction);
      if (key == "eventTime") {
        return ReadTime(ctx, v, "eventTime");
      }
      if (key == "awsRegion") {
        if (auto r = AsString(v)) event.SetStr(FieldId::kRegion, *r);
      } else if (key == "errorCode") {
        if (auto c = AsString(v)) {
          event.SetStr(FieldId::kErrorCode, *c);
          s.failed = true;
        }
      } else if (key == "userAgent") {
        if (auto a = AsString(v)) event.SetStr(FieldId::kUserAgent, *a);
      }
      break;
    case 11:
      if (key == "eventSource") return RequiredString(ctx, v, "eventSource", FieldId::kEventSource);
      if (key == "detail-type") s.detail_type = AsString(v).value_or(std::string_view());
      break;
    case 12:
      if (key == "userIdentity") return ReadUserIdentity(ctx, v, s);
      if (key == "errorMessage") {
        if (auto m = AsString(v)) event.SetStr(FieldId::kErrorMessage, *m);
      }
      break;
    case 15:
      if (key == "sourceIPAddress") {
        if (auto ip = AsString(v)) SetSourceIp(event, *ip);
      }
      break;
    case 16:
      if (key == "responseElements") return ReadResponse(ctx, v, s);
      break;
    case 17:
      if (key == "requestParameters") {
        od::object parameters;
        if (!AsObject(v, parameters)) return true;  // null for many calls
        return WalkParameterObject(ctx, parameters, 0, s);
      }
      break;
    case 18:
      if (key == "recipientAccountId") {
        if (auto a = AsString(v)) event.SetStr(FieldId::kAccount, *a);
      }
      break;
    case 19:
      if (key == "additionalEventData") return ReadAdditionalData(ctx, v);
      break;
    default:
      break;
  }
  return true;
}

// account (recipientAccountId, else userIdentity.accountId), tenant (the account) and principal
// (the first of arn, principalId, userName, invokedBy).
void SetIdentityFields(Event& event, const CloudTrailScratch& s) {
  if (!event.Has(FieldId::kAccount) && !s.account_from_identity.empty()) {
    event.SetStr(FieldId::kAccount, s.account_from_identity);
  }
  if (event.Has(FieldId::kAccount)) event.SetStr(FieldId::kTenant, event.Str(FieldId::kAccount));
  for (std::string_view p : {s.arn, s.principal_id, s.user_name, s.invoked_by}) {
    if (!p.empty()) {
      event.SetStr(FieldId::kPrincipal, p);
      break;
    }
  }
}

// instance.type (request, else response), job.id and resource.name (job name, else instance id
// from the request, else from the response).
void SetResourceFields(Event& event, const CloudTrailScratch& s) {
  if (!s.instance_type.value.empty()) {
    event.SetStr(FieldId::kInstanceType, s.instance_type.value);
  } else if (!s.response_type.value.empty()) {
    event.SetStr(FieldId::kInstanceType, s.response_type.value);
  }
  if (!s.job_name.empty()) {
    event.SetStr(FieldId::kJobId, s.job_name);
    event.SetStr(FieldId::kResourceName, s.job_name);
  } else if (!s.instance_id.value.empty()) {
    event.SetStr(FieldId::kResourceName, s.instance_id.value);
  } else if (!s.response_id.value.empty()) {
    event.SetStr(FieldId::kResourceName, s.response_id.value);
  }
}

}  // namespace

bool DecodeCloudTrail(od::object& record, RecordContext& ctx) {
  Event& event = ctx.event;
  CloudTrailScratch s;
  bool ok = ForEachField(ctx, record, [&](std::string_view key, od::value& v) {
    return ReadRecordField(ctx, key, v, s);
  });
  if (!ok) return false;
  if (!s.detail_type.empty() && !s.detail_type.ends_with("via CloudTrail")) {
    return ctx.Fail(DecodeErrorReason::kWrongType, "an EventBridge event of detail-type '",
                    s.detail_type,
                    "' is not a CloudTrail record (those are 'AWS API Call via CloudTrail' and "
                    "the other '... via CloudTrail' types)");
  }
  if (!ctx.unwrap.empty()) {
    if (event.Has(FieldId::kEventId) || event.Has(FieldId::kAction)) {
      return ctx.Fail(DecodeErrorReason::kWrongType,
                      "record has both CloudTrail fields and an EventBridge 'detail'");
    }
    return true;  // the caller decodes the record in `detail`
  }
  if (!event.Has(FieldId::kAction)) return ctx.MissingField("eventName");

  SetOutcome(event, s.failed);
  SetIdentityFields(event, s);
  SetResourceFields(event, s);
  return true;
}

CHIPWATCH_DECODE_END
