// Oracle Cloud Infrastructure Audit events (docs/formats/oci_audit.md): the Audit API's version 2
// event (CloudEvents 0.1 envelope: eventType, eventId, eventTime, data), the same event as OCI
// Logging stores it in the _Audit log group (CloudEvents 1.0: type, id, time, data, oracle), and
// a Logging search result or export line that wraps the latter in `logContent`.
#include "decode/internal.h"

CHIPWATCH_DECODE_BEGIN

namespace {

// How deep the search for the shape goes below data.stateChange.current, data.request.parameters,
// data.response.payload and data.additionalDetails (an instance configuration's shape is at
// instanceDetails.launchDetails.shape; a cluster network's at instancePools[].instanceDetails...).
constexpr int kMaxDetailDepth = 8;

// A value found while walking; the shallowest wins, ties go to the first in document order.
struct Found {
  std::string_view value;
  int depth = 1 << 30;
  void Offer(std::string_view v, int d) {
    if (!v.empty() && d < depth) {
      value = v;
      depth = d;
    }
  }
};

struct OciScratch {
  std::string_view event_type;
  std::string_view event_name;
  std::string_view source;
  std::string_view compartment, tenancy;
  std::string_view oracle_compartment, oracle_tenancy, oracle_region;
  std::string_view principal_name, principal_id, auth_type;
  std::string_view ip, user_agent;
  std::string_view resource_name, resource_id;
  std::string_view availability_domain;
  std::string_view status, response_message;
  Found shape;          // "shape" / "nodeShape" / "instanceShape" anywhere in the walked details
  Found region;         // "region" (the Instance resource's own region) in the details
  Found detail_domain;  // "availabilityDomain" in the details
  bool has_data = false;
};

bool WalkDetails(RecordContext& ctx, od::value& v, int depth, OciScratch& s);

bool WalkDetailObject(RecordContext& ctx, od::object& object, int depth, OciScratch& s) {
  return ForEachField(ctx, object, [&](std::string_view key, od::value& v) {
    // nodeShape: Container Engine node pools; instanceShape: a capacity reservation's
    // instanceReservationConfigs[].
    if (key == "shape" || key == "nodeShape" || key == "instanceShape") {
      if (auto t = AsString(v)) s.shape.Offer(*t, depth);
      return true;
    }
    if (key == "region") {
      if (auto r = AsString(v)) s.region.Offer(*r, depth);
      return true;
    }
    if (key == "availabilityDomain") {
      if (auto d = AsString(v)) s.detail_domain.Offer(*d, depth);
      return true;
    }
    return WalkDetails(ctx, v, depth + 1, s);
  });
}

bool WalkDetails(RecordContext& ctx, od::value& v, int depth, OciScratch& s) {
  return WalkTree(ctx, v, depth, kMaxDetailDepth,
                  [&](od::object& object, int d) { return WalkDetailObject(ctx, object, d, s); });
}

bool ReadIdentity(RecordContext& ctx, od::value& v, OciScratch& s) {
  return ForEachFieldOf(ctx, v, [&](std::string_view key, od::value& value) {
    if (key == "principalName") {
      s.principal_name = AsString(value).value_or(s.principal_name);
    } else if (key == "principalId") {
      s.principal_id = AsString(value).value_or(s.principal_id);
    } else if (key == "authType") {
      s.auth_type = AsString(value).value_or(s.auth_type);
    } else if (key == "tenantId") {
      s.tenancy = AsString(value).value_or(s.tenancy);
    } else if (key == "ipAddress") {
      s.ip = AsString(value).value_or(s.ip);
    } else if (key == "userAgent") {
      s.user_agent = AsString(value).value_or(s.user_agent);
    }
    return true;
  });
}

bool ReadData(RecordContext& ctx, od::value& v, OciScratch& s) {
  od::object data;
  if (!AsObject(v, data)) return true;  // another type: no payload, the envelope still decodes
  s.has_data = true;
  return ForEachField(ctx, data, [&](std::string_view key, od::value& value) {
    switch (key.size()) {
      case 8:
        if (key == "identity") return ReadIdentity(ctx, value, s);
        if (key == "response") {
          return ForEachFieldOf(ctx, value, [&](std::string_view k, od::value& r) {
            if (k == "status") {
              od::json_type type;
              if (r.type().get(type)) return true;
              if (type == od::json_type::number) {
                int64_t code;
                if (!r.get_int64().get(code)) s.status = NumberText(ctx.arena, code);
              } else {
                s.status = AsString(r).value_or(s.status);
              }
            } else if (k == "message") {
              s.response_message = AsString(r).value_or(s.response_message);
            } else if (k == "payload") {
              return WalkDetails(ctx, r, 0, s);
            }
            return true;
          });
        }
        break;
      case 7:
        if (key == "request") {
          return ForEachFieldOf(ctx, value, [&](std::string_view k, od::value& r) {
            return k == "parameters" ? WalkDetails(ctx, r, 0, s) : true;
          });
        }
        break;
      case 9:
        if (key == "eventName") s.event_name = AsString(value).value_or(s.event_name);
        break;
      case 10:
        if (key == "resourceId") s.resource_id = AsString(value).value_or(s.resource_id);
        break;
      case 11:
        if (key == "stateChange") {
          // `current` only: `previous` holds the old shape of an UpdateInstance.
          return ForEachFieldOf(ctx, value, [&](std::string_view k, od::value& c) {
            return k == "current" ? WalkDetails(ctx, c, 0, s) : true;
          });
        }
        break;
      case 12:
        if (key == "resourceName") s.resource_name = AsString(value).value_or(s.resource_name);
        break;
      case 13:
        if (key == "compartmentId") s.compartment = AsString(value).value_or(s.compartment);
        break;
      case 17:
        if (key == "additionalDetails") return WalkDetails(ctx, value, 0, s);
        break;
      case 18:
        if (key == "availabilityDomain") {
          s.availability_domain = AsString(value).value_or(s.availability_domain);
        }
        break;
      default:
        break;
    }
    return true;
  });
}

bool ReadOracle(RecordContext& ctx, od::value& v, OciScratch& s) {
  return ForEachFieldOf(ctx, v, [&](std::string_view key, od::value& value) {
    if (key == "compartmentid") {
      s.oracle_compartment = AsString(value).value_or(s.oracle_compartment);
    } else if (key == "tenantid") {
      s.oracle_tenancy = AsString(value).value_or(s.oracle_tenancy);
    } else if (key == "region") {
      s.oracle_region = AsString(value).value_or(s.oracle_region);
    }
    return true;
  });
}

// The envelope's fields. `wrapper`: the object may be a Logging search result / export line whose
// `logContent` holds the event (read once, not recursively).
bool ReadEnvelope(RecordContext& ctx, od::object& object, OciScratch& s, bool wrapper) {
  return ForEachField(ctx, object, [&](std::string_view key, od::value& v) {
    switch (key.size()) {
      case 2:
        if (key == "id") return ReadEventId(ctx, v, "id");
        break;
      case 4:
        if (key == "type") s.event_type = AsString(v).value_or(s.event_type);
        if (key == "time") return ReadTime(ctx, v, "time");
        if (key == "data") return ReadData(ctx, v, s);
        break;
      case 6:
        if (key == "source") s.source = AsString(v).value_or(s.source);
        if (key == "oracle") return ReadOracle(ctx, v, s);
        break;
      case 7:
        // The Audit API writes eventId; the "Contents of an Audit Log Event" page spells it
        // eventID.
        if (key == "eventId" || key == "eventID") return ReadEventId(ctx, v, key);
        break;
      case 9:
        if (key == "eventType") s.event_type = AsString(v).value_or(s.event_type);
        if (key == "eventTime") return ReadTime(ctx, v, "eventTime");
        break;
      case 10:
        if (wrapper && key == "logContent") {
          od::object content;
          if (!AsObject(v, content)) return ctx.WrongType("logContent", "an object");
          return ReadEnvelope(ctx, content, s, false);
        }
        break;
      default:
        break;
    }
    return true;
  });
}

// The operation from an event type: "com.oraclecloud.ComputeApi.LaunchInstance" ->
// "LaunchInstance". An Events-service type ("com.oraclecloud.computeapi.launchinstance.end") loses
// its .begin/.end phase first.
std::string_view ActionOfType(std::string_view type) {
  for (std::string_view phase : {std::string_view(".begin"), std::string_view(".end")}) {
    if (type.size() > phase.size() && type.ends_with(phase)) {
      type.remove_suffix(phase.size());
      break;
    }
  }
  size_t dot = type.rfind('.');
  return dot == std::string_view::npos ? type : type.substr(dot + 1);
}

// "ocid1.instance.oc1.phx.<unique>" -> "phx"; "" when the OCID names no region (tenancies,
// compartments and other global resources: "ocid1.compartment.oc1..<unique>").
std::string_view RegionOfOcid(std::string_view ocid) {
  if (!StartsWith(ocid, "ocid1.")) return {};
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    pos = ocid.find('.', pos);
    if (pos == std::string_view::npos) return {};
    ++pos;
  }
  size_t end = ocid.find('.', pos);
  if (end == std::string_view::npos) return {};
  return ocid.substr(pos, end - pos);
}

// "Uocm:PHX-AD-1" -> "PHX"; "Uocm:US-ASHBURN-AD-1" -> "US-ASHBURN"; "" when not of that form.
std::string_view RegionOfAvailabilityDomain(std::string_view ad) {
  size_t colon = ad.find(':');
  if (colon != std::string_view::npos) ad.remove_prefix(colon + 1);
  size_t suffix = ad.rfind("-AD-");
  if (suffix == std::string_view::npos) suffix = ad.rfind("-ad-");
  if (suffix == std::string_view::npos || suffix == 0) return {};
  return ad.substr(0, suffix);
}

// A region as written (a name such as "ap-tokyo-1", a key such as "PHX", or the region part of an
// availability domain) -> the region's name in lower case. The Instance resource's `region`
// returns the keys "phx" and "iad" for Phoenix and Ashburn (and their availability domains are
// named "PHX-AD-n" / "US-ASHBURN-AD-n"): those become us-phoenix-1 and us-ashburn-1. Other keys
// are kept, lower-cased, as given.
std::string_view NormalizeRegion(Arena& arena, std::string_view region) {
  if (EqualsLower(region, "phx") || EqualsLower(region, "us-phoenix")) return "us-phoenix-1";
  if (EqualsLower(region, "iad") || EqualsLower(region, "us-ashburn")) return "us-ashburn-1";
  bool lower = true;
  for (char c : region) lower = lower && !(c >= 'A' && c <= 'Z');
  if (lower) return region;
  char* out = arena.Allocate(region.size());
  for (size_t i = 0; i < region.size(); ++i) {
    char c = region[i];
    out[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  return {out, region.size()};
}

// An HTTP status as text: "200", "404", ... Failure for 4xx and 5xx (and any other text that is
// not a 1xx-3xx code, such as "Failed").
bool IsFailureStatus(std::string_view status) {
  if (status.size() == 3 && status[0] >= '1' && status[0] <= '3' && status[1] >= '0' &&
      status[1] <= '9' && status[2] >= '0' && status[2] <= '9') {
    return false;
  }
  return true;
}

}  // namespace

bool DecodeOciAudit(od::object& record, RecordContext& ctx) {
  Event& event = ctx.event;
  OciScratch s;
  if (!ReadEnvelope(ctx, record, s, true)) return false;

  if (!s.event_name.empty()) {
    event.SetStr(FieldId::kAction, s.event_name);
  } else if (!s.event_type.empty() && !ActionOfType(s.event_type).empty()) {
    event.SetStr(FieldId::kAction, ActionOfType(s.event_type));
  } else {
    return ctx.MissingField("eventType");
  }
  if (!s.source.empty()) event.SetStr(FieldId::kEventSource, s.source);

  // Account: the tenancy; tenant: the compartment (the unit a tenancy hands to a team or customer).
  std::string_view tenancy = !s.tenancy.empty() ? s.tenancy : s.oracle_tenancy;
  std::string_view compartment = !s.compartment.empty() ? s.compartment : s.oracle_compartment;
  if (!tenancy.empty()) event.SetStr(FieldId::kAccount, tenancy);
  if (!compartment.empty()) event.SetStr(FieldId::kTenant, compartment);

  if (!s.principal_name.empty()) {
    event.SetStr(FieldId::kPrincipal, s.principal_name);
  } else if (!s.principal_id.empty()) {
    event.SetStr(FieldId::kPrincipal, s.principal_id);
  }
  if (!s.auth_type.empty()) event.SetStr(FieldId::kPrincipalType, s.auth_type);
  if (!s.ip.empty()) SetSourceIp(event, s.ip);
  if (!s.user_agent.empty()) event.SetStr(FieldId::kUserAgent, s.user_agent);

  if (!s.resource_name.empty()) {
    event.SetStr(FieldId::kResourceName, s.resource_name);
  } else if (!s.resource_id.empty()) {
    event.SetStr(FieldId::kResourceName, s.resource_id);
  }

  std::string_view domain =
      !s.availability_domain.empty() ? s.availability_domain : s.detail_domain.value;
  if (!domain.empty()) event.SetStr(FieldId::kZone, domain);
  // Region: the resource's own (Instance.region), then Logging's, then the resource OCID's region
  // part, then the availability domain's.
  std::string_view region = s.region.value;
  if (region.empty()) region = s.oracle_region;
  if (region.empty()) region = RegionOfOcid(s.resource_id);
  if (region.empty()) region = RegionOfAvailabilityDomain(domain);
  if (!region.empty()) event.SetStr(FieldId::kRegion, NormalizeRegion(ctx.arena, region));

  if (!s.shape.value.empty()) event.SetStr(FieldId::kInstanceType, s.shape.value);

  if (!s.status.empty()) {
    const bool failed = IsFailureStatus(s.status);
    SetOutcome(event, failed);
    if (failed) {
      event.SetStr(FieldId::kErrorCode, s.status);
      if (!s.response_message.empty()) event.SetStr(FieldId::kErrorMessage, s.response_message);
    }
  } else {
    SetOutcome(event, false);
  }
  return true;
}

CHIPWATCH_DECODE_END
