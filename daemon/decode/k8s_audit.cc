// Kubernetes audit.k8s.io/v1 Event records (docs/formats/k8s_audit.md).
#include "decode/internal.h"

CHIPWATCH_DECODE_BEGIN

namespace {

struct K8sScratch {
  std::string_view verb, resource, subresource, object_name, object_namespace;
  std::string_view meta_name, meta_generate_name, meta_namespace;
  std::string_view node_name;
  std::string_view gpu_product;  // from nodeSelector (preferred) or node affinity
  std::string_view affinity_product;
  std::string_view instance_type;  // node.kubernetes.io/instance-type in a selector or affinity
  int64_t gpu_count = 0;
  bool has_gpu_count = false;
  int64_t response_code = -1;
  std::string_view response_message, response_reason;
  std::string_view cluster;
  std::string_view received, stage_time;  // requestReceivedTimestamp, stageTimestamp
};

// Extended resources that count whole accelerators: GPUs, Cloud TPU chips (GKE), AWS Neuron devices
// (Trainium/Inferentia), Intel Gaudi.
bool IsGpuResource(std::string_view key) {
  return key == "nvidia.com/gpu" || key == "amd.com/gpu" || key == "google.com/tpu" ||
         key == "aws.amazon.com/neuron" || key == "habana.ai/gaudi";
}

// Well-known node labels naming the node's instance or machine type (EKS, GKE, AKS, Karpenter).
bool IsInstanceTypeLabel(std::string_view key) {
  return key == "node.kubernetes.io/instance-type" || key == "beta.kubernetes.io/instance-type";
}

// Node labels that name the GPU model: GPU Feature Discovery, AMD's node labeller, GKE and EKS.
bool IsGpuProductLabel(std::string_view key) {
  return key == "nvidia.com/gpu.product" || key == "amd.com/gpu.product" ||
         key == "amd.com/gpu.product-name" || key == "beta.amd.com/gpu.product-name" ||
         key == "cloud.google.com/gke-accelerator" || key == "k8s.amazonaws.com/accelerator" ||
         key == "cloud.google.com/gke-tpu-accelerator";  // GKE TPU slices: tpu-v5p-slice, tpu7x
}

// Sum of GPU quantities in a resources.limits / resources.requests map; -1 when it names none.
bool SumGpus(RecordContext& ctx, od::value& v, int64_t& out) {
  out = -1;
  od::object map;
  if (!AsObject(v, map)) return true;
  return ForEachField(ctx, map, [&](std::string_view key, od::value& quantity) {
    if (IsGpuResource(key)) {
      if (auto n = AsCount(quantity)) out = (out < 0 ? 0 : out) + *n;
    }
    return true;
  });
}

// containers[]: per container, limits (else requests) of GPU resources, summed over containers.
bool ReadContainers(RecordContext& ctx, od::value& v, K8sScratch& s) {
  od::array containers;
  if (!AsArray(v, containers)) return true;
  return ForEachElement(ctx, containers, [&](size_t, od::value& c) {
    od::object container;
    if (!AsObject(c, container)) return true;
    int64_t limits = -1, requests = -1;
    bool ok = ForEachField(ctx, container, [&](std::string_view key, od::value& value) {
      if (key != "resources") return true;
      od::object resources;
      if (!AsObject(value, resources)) return true;
      return ForEachField(ctx, resources, [&](std::string_view k, od::value& map) {
        if (k == "limits") return SumGpus(ctx, map, limits);
        if (k == "requests") return SumGpus(ctx, map, requests);
        return true;
      });
    });
    int64_t n = limits >= 0 ? limits : requests;
    if (n >= 0) {
      s.gpu_count += n;
      s.has_gpu_count = true;
    }
    return ok;
  });
}

bool ReadNodeSelector(RecordContext& ctx, od::value& v, K8sScratch& s) {
  od::object selector;
  if (!AsObject(v, selector)) return true;
  return ForEachField(ctx, selector, [&](std::string_view key, od::value& value) {
    if (IsGpuProductLabel(key) && s.gpu_product.empty()) {
      s.gpu_product = AsString(value).value_or(std::string_view());
    } else if (IsInstanceTypeLabel(key) && s.instance_type.empty()) {
      s.instance_type = AsString(value).value_or(std::string_view());
    }
    return true;
  });
}

// One matchExpressions entry: {key, operator, values}; any order.
bool ReadMatchExpression(RecordContext& ctx, od::value& v, K8sScratch& s) {
  od::object expression;
  if (!AsObject(v, expression)) return true;
  std::string_view key, op, first_value;
  bool ok = ForEachField(ctx, expression, [&](std::string_view k, od::value& value) {
    if (k == "key") {
      key = AsString(value).value_or(key);
    } else if (k == "operator") {
      op = AsString(value).value_or(op);
    } else if (k == "values") {
      od::array values;
      if (!AsArray(value, values)) return true;
      for (auto element : values) {
        od::value first;
        if (auto e = std::move(element).get(first)) return ctx.FailJson(e);
        first_value = AsString(first).value_or(first_value);
        break;
      }
    }
    return true;
  });
  if (ok && s.affinity_product.empty() && op == "In" && IsGpuProductLabel(key)) {
    s.affinity_product = first_value;
  }
  if (ok && s.instance_type.empty() && op == "In" && IsInstanceTypeLabel(key)) {
    s.instance_type = first_value;
  }
  return ok;
}

template <typename Fn>
bool AtPathImpl(RecordContext& ctx, od::value& v, const std::string_view* path,
                const std::string_view* end, Fn& fn) {
  if (path == end) return fn(v);
  od::object object;
  if (!AsObject(v, object)) return true;
  return ForEachField(ctx, object, [&](std::string_view key, od::value& value) {
    if (key != *path) return true;
    return AtPathImpl(ctx, value, path + 1, end, fn);
  });
}

// Walks `path` (object keys) from `v` and calls fn on the value at its end, if there is one.
template <typename Fn>
bool AtPath(RecordContext& ctx, od::value& v, std::initializer_list<std::string_view> path,
            Fn&& fn) {
  return AtPathImpl(ctx, v, path.begin(), path.end(), fn);
}

bool ReadAffinity(RecordContext& ctx, od::value& v, K8sScratch& s) {
  return AtPath(
      ctx, v,
      {"nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"},
      [&](od::value& terms_value) {
        od::array terms;
        if (!AsArray(terms_value, terms)) return true;
        return ForEachElement(ctx, terms, [&](size_t, od::value& term) {
          return AtPath(ctx, term, {"matchExpressions"}, [&](od::value& list_value) {
            od::array list;
            if (!AsArray(list_value, list)) return true;
            return ForEachElement(
                ctx, list, [&](size_t, od::value& e) { return ReadMatchExpression(ctx, e, s); });
          });
        });
      });
}

// A pod spec, or a workload spec holding one at template.spec (Job, Deployment, StatefulSet,
// DaemonSet, ReplicaSet) or jobTemplate.spec.template.spec (CronJob).
bool ReadSpec(RecordContext& ctx, od::value& v, K8sScratch& s, int depth) {
  od::object spec;
  if (depth > 3 || !AsObject(v, spec)) return true;
  return ForEachField(ctx, spec, [&](std::string_view key, od::value& value) {
    switch (key.size()) {
      case 8:
        if (key == "affinity") return ReadAffinity(ctx, value, s);
        if (key == "nodeName") s.node_name = AsString(value).value_or(s.node_name);
        if (key == "template") {
          return AtPath(ctx, value, {"spec"},
                        [&](od::value& inner) { return ReadSpec(ctx, inner, s, depth + 1); });
        }
        break;
      case 10:
        if (key == "containers") return ReadContainers(ctx, value, s);
        break;
      case 11:
        if (key == "jobTemplate") {
          return AtPath(ctx, value, {"spec"},
                        [&](od::value& inner) { return ReadSpec(ctx, inner, s, depth + 1); });
        }
        break;
      case 12:
        if (key == "nodeSelector") return ReadNodeSelector(ctx, value, s);
        break;
      default:
        break;
    }
    return true;
  });
}

bool ReadRequestObject(RecordContext& ctx, od::value& v, K8sScratch& s) {
  od::object object;
  if (!AsObject(v, object)) return true;
  return ForEachField(ctx, object, [&](std::string_view key, od::value& value) {
    if (key == "spec") return ReadSpec(ctx, value, s, 0);
    if (key == "metadata") {
      od::object metadata;
      if (!AsObject(value, metadata)) return true;
      return ForEachField(ctx, metadata, [&](std::string_view k, od::value& mv) {
        if (k == "name") {
          s.meta_name = AsString(mv).value_or(s.meta_name);
        } else if (k == "generateName") {
          s.meta_generate_name = AsString(mv).value_or(s.meta_generate_name);
        } else if (k == "namespace") {
          s.meta_namespace = AsString(mv).value_or(s.meta_namespace);
        }
        return true;
      });
    }
    return true;
  });
}

bool ReadObjectRef(RecordContext& ctx, od::value& v, K8sScratch& s) {
  od::object ref;
  if (!AsObject(v, ref)) return true;
  return ForEachField(ctx, ref, [&](std::string_view key, od::value& value) {
    if (key == "resource") {
      s.resource = AsString(value).value_or(s.resource);
    } else if (key == "subresource") {
      s.subresource = AsString(value).value_or(s.subresource);
    } else if (key == "namespace") {
      s.object_namespace = AsString(value).value_or(s.object_namespace);
    } else if (key == "name") {
      s.object_name = AsString(value).value_or(s.object_name);
    }
    return true;
  });
}

bool ReadResponseStatus(RecordContext& ctx, od::value& v, K8sScratch& s) {
  od::object status;
  if (!AsObject(v, status)) return true;
  return ForEachField(ctx, status, [&](std::string_view key, od::value& value) {
    if (key == "code") {
      if (auto n = AsCount(value)) s.response_code = *n;
    } else if (key == "message") {
      s.response_message = AsString(value).value_or(s.response_message);
    } else if (key == "reason") {
      s.response_reason = AsString(value).value_or(s.response_reason);
    }
    return true;
  });
}

// annotations["cluster"], ["cluster-name"], ["cluster_name"] or any "<prefix>/cluster[-name]".
bool IsClusterAnnotation(std::string_view key) {
  std::string_view name = LastSegment(key);
  return name == "cluster" || name == "cluster-name" || name == "cluster_name";
}

// annotations: the cluster's name (the first cluster annotation that is a string).
bool ReadAnnotations(RecordContext& ctx, od::value& v, K8sScratch& s) {
  od::object annotations;
  if (!AsObject(v, annotations)) return true;
  return ForEachField(ctx, annotations, [&](std::string_view k, od::value& value) {
    if (s.cluster.empty() && IsClusterAnnotation(k)) {
      s.cluster = AsString(value).value_or(std::string_view());
    }
    return true;
  });
}

// sourceIPs: the first element is the client's address; the rest are proxies (not read).
bool ReadSourceIps(RecordContext& ctx, od::value& v) {
  od::array ips;
  if (!AsArray(v, ips)) return true;
  for (auto element : ips) {
    od::value first;
    if (auto e = std::move(element).get(first)) return ctx.FailJson(e, "sourceIPs");
    if (auto ip = AsString(first)) SetSourceIp(ctx.event, *ip);
    break;
  }
  return true;
}

// One top-level field of the record, dispatched on the key's length.
bool ReadRecordField(RecordContext& ctx, std::string_view key, od::value& v, K8sScratch& s) {
  Event& event = ctx.event;
  switch (key.size()) {
    case 4:
      if (key == "verb") {
        auto verb = RequireString(ctx, v, "verb");
        if (!verb) return false;
        s.verb = *verb;
      } else if (key == "user") {
        return AtPath(ctx, v, {"username"}, [&](od::value& name) {
          if (auto n = AsString(name)) event.SetStr(FieldId::kPrincipal, *n);
          return true;
        });
      } else if (key == "kind") {
        auto kind = AsString(v);
        if (!kind || *kind != "Event") return ctx.WrongType("kind", "\"Event\"");
      }
      break;
    case 7:
      if (key == "auditID") {
        return ReadEventId(ctx, v, "auditID");
      }
      break;
    case 9:
      if (key == "objectRef") return ReadObjectRef(ctx, v, s);
      if (key == "sourceIPs") return ReadSourceIps(ctx, v);
      if (key == "userAgent") {
        if (auto a = AsString(v)) event.SetStr(FieldId::kUserAgent, *a);
      }
      break;
    case 11:
      if (key == "annotations") return ReadAnnotations(ctx, v, s);
      break;
    case 13:
      if (key == "requestObject") return ReadRequestObject(ctx, v, s);
      break;
    case 14:
      if (key == "stageTimestamp") s.stage_time = AsString(v).value_or(s.stage_time);
      if (key == "responseStatus") return ReadResponseStatus(ctx, v, s);
      break;
    case 24:
      if (key == "requestReceivedTimestamp") s.received = AsString(v).value_or(s.received);
      break;
    default:
      break;
  }
  return true;
}

// action: "<resource>[/<subresource>].<verb>", or the bare verb for non-resource URLs.
void SetAction(RecordContext& ctx, const K8sScratch& s) {
  Event& event = ctx.event;
  if (s.resource.empty()) {
    event.SetStr(FieldId::kAction, s.verb);  // non-resource URLs (/healthz, /metrics)
  } else if (s.subresource.empty()) {
    event.SetStr(FieldId::kAction, ctx.arena.Concat({s.resource, ".", s.verb}));
  } else {
    event.SetStr(FieldId::kAction, ctx.arena.Concat({s.resource, "/", s.subresource, ".", s.verb}));
  }
}

// tenant (namespace), resource.name, cluster, node and the workload's accelerators.
void SetObjectFields(Event& event, const K8sScratch& s) {
  std::string_view ns = !s.object_namespace.empty() ? s.object_namespace : s.meta_namespace;
  if (!ns.empty()) event.SetStr(FieldId::kTenant, ns);
  std::string_view name = !s.object_name.empty() ? s.object_name
                          : !s.meta_name.empty() ? s.meta_name
                                                 : s.meta_generate_name;
  if (!name.empty()) event.SetStr(FieldId::kResourceName, name);
  if (!s.cluster.empty()) event.SetStr(FieldId::kCluster, s.cluster);
  if (!s.node_name.empty()) event.SetStr(FieldId::kNode, s.node_name);
  if (s.has_gpu_count) event.SetNum(FieldId::kAcceleratorCount, s.gpu_count);
  std::string_view product = !s.gpu_product.empty() ? s.gpu_product : s.affinity_product;
  if (!product.empty()) event.SetStr(FieldId::kAcceleratorModel, product);
  if (!s.instance_type.empty()) event.SetStr(FieldId::kInstanceType, s.instance_type);
}

// response.code, outcome and, for a failure (>= 400), its error code and message.
void SetResponseFields(RecordContext& ctx, const K8sScratch& s) {
  if (s.response_code < 0) return;
  Event& event = ctx.event;
  event.SetNum(FieldId::kResponseCode, s.response_code);
  bool failed = s.response_code >= 400;
  SetOutcome(event, failed);
  if (failed) {
    event.SetStr(FieldId::kErrorCode, NumberText(ctx.arena, s.response_code));
    std::string_view message = !s.response_message.empty() ? s.response_message : s.response_reason;
    if (!message.empty()) event.SetStr(FieldId::kErrorMessage, message);
  }
}

}  // namespace

bool DecodeK8sAudit(od::object& record, RecordContext& ctx) {
  Event& event = ctx.event;
  K8sScratch s;
  bool ok = ForEachField(ctx, record, [&](std::string_view key, od::value& v) {
    return ReadRecordField(ctx, key, v, s);
  });
  if (!ok) return false;
  if (s.verb.empty()) return ctx.MissingField("verb");

  event.SetStr(FieldId::kEventSource, "kubernetes");
  SetAction(ctx, s);
  // requestReceivedTimestamp, else (absent or unparseable, e.g. redacted) stageTimestamp.
  if (!s.received.empty()) SetTime(ctx, s.received);
  if (!event.Has(FieldId::kEventTime) && !s.stage_time.empty()) SetTime(ctx, s.stage_time);
  std::string_view principal = event.Str(FieldId::kPrincipal);
  if (!principal.empty()) {
    event.SetStr(FieldId::kPrincipalType, StartsWith(principal, "system:serviceaccount:")
                                              ? std::string_view("ServiceAccount")
                                              : "User");
  }
  SetObjectFields(event, s);
  SetResponseFields(ctx, s);
  return true;
}

CHIPWATCH_DECODE_END
