#!/usr/bin/python3
"""The Python baseline: chipwatch's default CloudTrail checks written the straightforward way.

    baseline.py --rules DIR --geoip FILE [FILE...]        alerts as JSON lines on stdout
    baseline.py --rules DIR --emit-jq                      print the equivalent jq filter

What a SOC engineer would write: json.loads per line, compiled regexes built from the same
catalogs chipwatch reads (rules/catalog/*.yaml with PyYAML, rules/core/lists.yaml for the action
lists), a MaxMind lookup (python3-maxminddb) of sourceIPAddress, a tier lookup, and one JSON alert
per finding. It implements the CloudTrail side of CW-HW-001/002 (restricted accelerator launched from
a restricted destination / in a restricted region), CW-AI-001 (frontier model invoked from a restricted
destination) and CW-AI-002 (model access set up from a restricted destination). Simplifications a
script would make: effective dates are ignored, the instance type is read from the usual few places.
"""
import argparse
import json
import os
import re
import sys

try:
    import yaml
except ImportError:  # the hard-coded subset below is used instead
    yaml = None

FALLBACK = {  # used only without PyYAML (python3-yaml)
    "restricted_types": ["p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge",
                         "p6-b200.48xlarge", "g6e.xlarge", "g6e.12xlarge"],
    "frontier": [r"(^|[.:/])anthropic\.claude"],
    "tiers": {"CN": "embargoed", "HK": "embargoed", "MO": "embargoed", "RU": "embargoed", "BY": "embargoed",
              "IR": "embargoed", "KP": "embargoed", "SY": "embargoed", "CU": "embargoed", "AE": "licence-required"},
    "regions": {"cn-north-1": "CN", "cn-northwest-1": "CN", "ap-east-1": "HK", "me-central-1": "AE"},
    "provisioning": ["RunInstances", "StartInstances", "ModifyInstanceAttribute", "CreateFleet",
                     "RequestSpotInstances", "CreateCapacityReservation", "CreateTrainingJob", "CreateEndpointConfig"],
    "invocation": ["InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"],
    "access": ["PutFoundationModelEntitlement", "CreateFoundationModelAgreement", "PutUseCaseForModelAccess"],
}


def load_yaml_dir(path):
    docs = []
    for root, _, files in sorted(os.walk(path)):
        if "examples" in root:
            continue
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                with open(os.path.join(root, f)) as fh:
                    docs.append(yaml.safe_load(fh) or {})
    return docs


class Policy:
    """Regexes and lookup tables built once from the rule pack."""

    def __init__(self, rules_dir):
        if yaml is None:
            f = FALLBACK
            self.restricted_types = {t: t for t in f["restricted_types"]}
            type_patterns = []
            self.frontier = re.compile("|".join(f["frontier"]))
            self.tiers, self.regions = f["tiers"], f["regions"]
            region_patterns = []
            self.provisioning, self.invocation, self.access = (set(f[k]) for k in ("provisioning", "invocation", "access"))
        else:
            cats, lists = {}, {}
            for d in load_yaml_dir(rules_dir):
                for k, entries in (d.get("catalogs") or {}).items():
                    bucket = cats.setdefault(k, {})
                    for e in entries or []:
                        bucket[e["name"]] = {**bucket.get(e["name"], {}), **e} if e.get("override") else e
                for l in d.get("lists") or []:
                    lists.setdefault(l["name"], []).extend(l.get("items") or [])
            restricted_acc = {n for n, e in cats["accelerators"].items() if e.get("status") == "restricted"}
            self.restricted_types = {}  # lower-case type -> accelerator family
            type_patterns = []
            for n, e in cats["instance_types"].items():
                if e.get("accelerator") in restricted_acc:
                    if "pattern" in e:
                        type_patterns.append((re.compile(e["pattern"] + r"\Z", re.I), e["accelerator"]))
                    else:
                        self.restricted_types[n.lower()] = e["accelerator"]
            self.frontier = re.compile("|".join(p for e in cats["frontier_models"].values() for p in e["match"]))
            self.tiers = {n: e["tier"] for n, e in cats["destinations"].items()}
            self.regions = {}
            region_patterns = []
            for n, e in cats["regions"].items():
                if e.get("provider", "aws") != "aws":
                    continue
                if "pattern" in e:
                    region_patterns.append((re.compile(e["pattern"] + r"\Z"), e["country"]))
                else:
                    self.regions[n] = e["country"]
            self.provisioning = set(lists["aws_provisioning_actions"])
            self.invocation = set(lists["model_invocation_actions"])
            self.access = set(lists["model_access_actions"])
        # One alternation over every restricted exact type (the usual SOC one-liner), plus patterns.
        alts = "|".join(re.escape(t) for t in sorted(self.restricted_types, key=len, reverse=True))
        self.type_re = re.compile(r"(?:ml\.)?(" + alts + r")\Z", re.I)
        self.type_patterns = type_patterns
        self.region_patterns = region_patterns

    def accelerator(self, itype):
        m = self.type_re.match(itype)
        if m:
            return self.restricted_types[m.group(1).lower()]
        bare = itype[3:] if itype.startswith("ml.") else itype
        for rx, acc in self.type_patterns:
            if rx.match(bare):
                return acc
        return None

    def region_country(self, region):
        c = self.regions.get(region)
        if c is None:
            for rx, country in self.region_patterns:
                if rx.match(region):
                    return country
        return c

    def jq_filter(self):
        """The same selection for jq: event names + instance-type regex + model-id regex (no GeoIP)."""
        def names(s):
            return "[" + ",".join(json.dumps(x) for x in sorted(s)) + "]"
        types = "^(ml\\\\.)?(" + "|".join(re.escape(t).replace("\\", "\\\\") for t in sorted(self.restricted_types)) + ")$"
        models = self.frontier.pattern.replace("\\", "\\\\")
        return ("select((.eventName as $n | " + names(self.provisioning) + " | index($n)) and "
                "((.requestParameters.instanceType | if type == \"object\" then .value else . end) // "
                ".requestParameters.resourceConfig.instanceType // "
                "(.requestParameters.productionVariants[0]?.instanceType) // \"\" | tostring | test(\"" + types + "\"; \"i\")) "
                "or (.eventName as $n | " + names(self.invocation | self.access) + " | index($n)) and "
                "((.requestParameters.modelId // \"\") | test(\"" + models + "\")))"
                " | {eventID, eventName, sourceIPAddress, awsRegion}")


def instance_type(req):
    if not isinstance(req, dict):
        return None
    t = req.get("instanceType")
    if isinstance(t, dict):
        t = t.get("value")
    if t is None:
        t = (req.get("resourceConfig") or {}).get("instanceType")
    if t is None:
        pv = req.get("productionVariants")
        if isinstance(pv, list) and pv and isinstance(pv[0], dict):
            t = pv[0].get("instanceType")
    return t if isinstance(t, str) else None


class Checker:
    def __init__(self, policy, geoip_path):
        import maxminddb
        self.p = policy
        self.db = maxminddb.open_database(geoip_path)

    def country(self, ip):
        try:
            r = self.db.get(ip)
        except ValueError:  # "ec2.amazonaws.com", "AWS Internal"
            return None
        if not r:
            return None
        c = r.get("country")
        if isinstance(c, dict):
            return c.get("iso_code")
        return r.get("country_code")

    def check(self, rec):
        """Alerts (dicts) for one CloudTrail record."""
        p = self.p
        name = rec.get("eventName")
        alerts = []
        if name in p.provisioning:
            itype = instance_type(rec.get("requestParameters"))
            acc = p.accelerator(itype) if itype else None
            if acc:
                country = self.country(rec.get("sourceIPAddress", ""))
                tier = p.tiers.get(country)
                if tier:
                    alerts.append(self.alert("CW-HW-001", "critical" if tier == "embargoed" else "medium", rec, country, tier, itype, acc))
                rc = p.region_country(rec.get("awsRegion", ""))
                rtier = p.tiers.get(rc)
                if rtier:
                    alerts.append(self.alert("CW-HW-002", "critical" if rtier == "embargoed" else "medium", rec, country, tier, itype, acc))
        elif name in p.invocation or name in p.access:
            model = (rec.get("requestParameters") or {}).get("modelId")
            frontier = bool(model) and p.frontier.search(model) is not None
            if frontier or (name in p.access and not model):
                country = self.country(rec.get("sourceIPAddress", ""))
                tier = p.tiers.get(country)
                if tier:
                    alerts.append(self.alert("CW-AI-001" if name in p.invocation else "CW-AI-002", "high", rec, country, tier, None, None))
        return alerts

    @staticmethod
    def alert(rule, severity, rec, country, tier, itype, acc):
        ident = rec.get("userIdentity") or {}
        return {"rule_id": rule, "severity": severity, "event_id": rec.get("eventID"),
                "event_time": rec.get("eventTime"), "action": rec.get("eventName"),
                "actor": {"account": ident.get("accountId"), "principal": ident.get("arn"),
                          "source_ip": rec.get("sourceIPAddress"), "country": country, "country_tier": tier},
                "resource": {"region": rec.get("awsRegion"), "instance_type": itype, "accelerator_family": acc,
                             "model_id": (rec.get("requestParameters") or {}).get("modelId")}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", default="rules")
    ap.add_argument("--geoip")
    ap.add_argument("--emit-jq", action="store_true")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    policy = Policy(a.rules)
    if a.emit_jq:
        print(policy.jq_filter())
        return 0
    checker = Checker(policy, a.geoip)
    out = sys.stdout
    bad = 0
    for path in a.files:
        with open(path, "rb") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                for al in checker.check(rec):
                    out.write(json.dumps(al) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
