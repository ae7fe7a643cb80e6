#!/usr/bin/env python3
"""Check the Grafana dashboard and the Prometheus rules against a real /metrics exposition.

usage: python3 dashboard_metrics_test.py SOURCE_DIR METRICS_FILE [--promtool PATH] [--allow-absent NAME]...

SOURCE_DIR    the repository root (holds packaging/grafana/, packaging/prometheus/, docs/)
METRICS_FILE  a saved exposition of the running daemon (`curl -s 127.0.0.1:9464/metrics > FILE`)

Checks, all of them, every failure reported before exiting:
  1. packaging/grafana/chipwatch.json is valid JSON with unique panel ids and a description on every
     panel; every chipwatch_* metric referenced by a Prometheus query (panels, nested panels of
     collapsed rows, template variables) exists in METRICS_FILE. Histogram series names
     (_bucket/_sum/_count) are reduced to the histogram's name, and a name used with _bucket must be
     a histogram. Loki queries are not checked (their fields come from the alert JSON, not metrics).
  2. Every Prometheus query of the dashboard parses (promtool, with Grafana's variables replaced).
  3. Every chipwatch_* metric referenced by an `expr` of packaging/prometheus/*.yml exists in
     METRICS_FILE; every alert has a `severity` label and `summary`, `description` and `runbook`
     annotations, and every runbook anchor exists as a heading of docs/operations.md.
  4. `promtool check rules` on every rule file and `promtool test rules` on every *.test.yml.

Exit status: 0 when everything passed, 1 when a check failed, 2 on usage errors or missing files.
A family counts as present when the exposition has its `# TYPE`/`# HELP` line or any of its samples.
chipwatch prints a family only once it has a series, so labelled families such as
chipwatch_alerts_total, chipwatch_decode_errors_total or chipwatch_sink_errors_total appear only
after their first event: produce those events before saving METRICS_FILE, or name the family with
--allow-absent NAME (a warning instead of a failure).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml  # PyYAML (Debian: python3-yaml); a small fallback parser is used without it
except ImportError:  # pragma: no cover
    yaml = None

DASHBOARD = os.path.join("packaging", "grafana", "chipwatch.json")
RULES_DIR = os.path.join("packaging", "prometheus")
OPERATIONS = os.path.join("docs", "operations.md")

METRIC_RE = re.compile(r"\bchipwatch_[a-zA-Z0-9_]*[a-zA-Z0-9]")
STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
HIST_SUFFIXES = ("_bucket", "_sum", "_count")


class Failures:
    def __init__(self):
        self.items = []

    def add(self, msg):
        self.items.append(msg)


def metric_names(expr):
    """chipwatch_* names in a PromQL expression, string literals (label values) ignored."""
    return set(METRIC_RE.findall(STRING_RE.sub('""', expr)))


def base_name(name):
    for suffix in HIST_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, None


# ------------------------------------------------------------------------------ exposition


def parse_exposition(path):
    """Returns ({family: type}, {sample names}) from a Prometheus text (or OpenMetrics) exposition."""
    types, samples = {}, set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    types[parts[2]] = parts[3].strip()
                elif len(parts) >= 3 and parts[1] == "HELP":
                    types.setdefault(parts[2], "untyped")
                continue
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
            if m:
                samples.add(m.group(1))
    return types, samples


def check_names(where, refs, types, samples, failures, allow_absent=()):
    """refs: {referenced name: set of places}. Checks each against the exposition."""
    for name in sorted(refs):
        base, suffix = base_name(name)
        places = ", ".join(sorted(refs[name]))
        family_type = types.get(base)
        if family_type is None and base.endswith("_total"):
            family_type = types.get(base[: -len("_total")])  # OpenMetrics counter family
        present = (
            family_type is not None
            or base in samples
            or any(base + s in samples for s in HIST_SUFFIXES)
        )
        if not present and base in allow_absent:
            print(f"warning: {where}: {base} ({places}) is not in the exposition (allowed by --allow-absent)")
            continue
        if not present:
            failures.add(f"{where}: metric {base} (referenced as {name} in {places}) is not in the exposition")
            continue
        if suffix == "_bucket" and family_type not in (None, "histogram"):
            failures.add(f"{where}: {name} used as a histogram in {places} but {base} is a {family_type}")


# ------------------------------------------------------------------------------ dashboard


def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


def is_prometheus(ds, inherited=None):
    ds = ds if ds is not None else inherited
    if ds is None:
        return True  # the dashboard's default datasource; we treat it as Prometheus
    if isinstance(ds, str):
        return "loki" not in ds.lower()
    return ds.get("type") == "prometheus" or "DS_PROMETHEUS" in str(ds.get("uid", ""))


def dashboard_queries(dash, failures):
    """[(place, expr)] of every Prometheus query in the dashboard; structural checks on the way."""
    queries, ids = [], {}
    for p in walk_panels(dash.get("panels")):
        title = p.get("title", "?")
        pid = p.get("id")
        if pid in ids:
            failures.add(f"dashboard: panel id {pid} used by '{ids[pid]}' and '{title}'")
        ids[pid] = title
        if p.get("type") != "row" and not p.get("description"):
            failures.add(f"dashboard: panel '{title}' has no description")
        for t in p.get("targets") or []:
            expr = t.get("expr")
            if expr and is_prometheus(t.get("datasource"), p.get("datasource")):
                queries.append((f"panel '{title}' {t.get('refId', '')}".strip(), expr))
    for v in (dash.get("templating") or {}).get("list", []):
        if v.get("type") != "query" or not is_prometheus(v.get("datasource")):
            continue
        q = v.get("query")
        expr = q.get("query") if isinstance(q, dict) else q
        if expr:
            queries.append((f"variable '{v.get('name')}'", expr))
    return queries


def grafana_to_promql(expr):
    """Replace Grafana's variables so that promtool can parse the query."""
    expr = re.sub(r"\$__rate_interval|\$\{__rate_interval\}", "1m", expr)
    expr = re.sub(r"\$__range|\$\{__range\}|\$__interval|\$\{__interval\}", "1h", expr)
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?", ".+", expr)


def check_dashboard(source, types, samples, promtool, failures, allow_absent=()):
    path = os.path.join(source, DASHBOARD)
    try:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        failures.add(f"dashboard: cannot read {path}: {e}")
        return 0
    if not isinstance(dash.get("schemaVersion"), int):
        failures.add("dashboard: no schemaVersion")
    queries = dashboard_queries(dash, failures)
    refs = {}
    for place, expr in queries:
        for name in metric_names(expr):
            refs.setdefault(name, set()).add(place)
    if not refs:
        failures.add("dashboard: no chipwatch_* metric referenced by any Prometheus query")
    check_names("dashboard", refs, types, samples, failures, allow_absent)

    if promtool and queries:
        # label_values(...) is Grafana's, not PromQL: check the metric part only.
        exprs = []
        for place, expr in queries:
            m = re.fullmatch(r"\s*label_values\(\s*(.*?)\s*,\s*[A-Za-z_]\w*\s*\)\s*", expr, re.S)
            if m:
                expr = m.group(1)
            exprs.append((place, grafana_to_promql(expr)))
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query:{i}", "expr": e} for i, (_, e) in enumerate(exprs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as tmp:
            json.dump(rules, tmp)  # JSON is YAML
        try:
            r = run([promtool, "check", "rules", tmp.name])
            if r.returncode != 0:
                found = False
                for line in r.output.splitlines():
                    m = re.search(r"dashboard:query:(\d+)\"?:?\s*(.*)", line)
                    if m:
                        found = True
                        place, expr = exprs[int(m.group(1))]
                        failures.add(f"dashboard: {place}: {m.group(2).strip()}\n    query: {expr}")
                if not found:
                    failures.add("dashboard: promtool rejected the queries:\n" + r.output.rstrip())
        finally:
            os.unlink(tmp.name)
    return len(queries)


# ------------------------------------------------------------------------------ rules


def load_rules(path):
    """[{alert|record, expr, labels, annotations}] from a rule file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if yaml is not None:
        doc = yaml.safe_load(text) or {}
        return [r for g in doc.get("groups") or [] for r in g.get("rules") or []]
    return fallback_rules(text)


def fallback_rules(text):
    """Just enough YAML for rule files: `- alert:`/`- record:` items, `expr`, severity, annotations."""
    rules, cur, lines, i = [], None, text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*- (alert|record):\s*(.+)", line)
        if m:
            cur = {m.group(1): m.group(2).strip().strip("\"'"), "labels": {}, "annotations": {}}
            rules.append(cur)
        elif cur is not None:
            m = re.match(r"(\s*)(expr|severity|summary|description|runbook):\s*(.*)", line)
            if m:
                indent, key, value = len(m.group(1)), m.group(2), m.group(3).strip()
                if value[:1] in ("|", ">"):
                    block = []
                    while i + 1 < len(lines) and (not lines[i + 1].strip() or
                                                  len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent):
                        i += 1
                        block.append(lines[i].strip())
                    value = "\n".join(block)
                value = value.strip("\"'")
                if key == "expr":
                    cur["expr"] = value
                elif key == "severity":
                    cur["labels"]["severity"] = value
                else:
                    cur["annotations"][key] = value
        i += 1
    return rules


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def operations_anchors(source, failures):
    path = os.path.join(source, OPERATIONS)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        failures.add(f"runbooks: cannot read {path}: {e}")
        return None
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    anchors = {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)}
    anchors |= set(re.findall(r'<a\s+(?:name|id)="([^"]+)"', text))
    return anchors


def check_rules(source, types, samples, failures, allow_absent=()):
    rules_dir = os.path.join(source, RULES_DIR)
    files = sorted(f for f in os.listdir(rules_dir)
                   if f.endswith((".yml", ".yaml")) and not f.endswith((".test.yml", ".test.yaml")))
    if not files:
        failures.add(f"rules: no rule file in {rules_dir}")
    anchors = operations_anchors(source, failures)
    refs, alerts = {}, 0
    for name in files:
        try:
            rules = load_rules(os.path.join(rules_dir, name))
        except Exception as e:  # yaml.YAMLError, OSError
            failures.add(f"rules: cannot read {name}: {e}")
            continue
        for r in rules:
            rid = r.get("alert") or r.get("record") or "?"
            for metric in metric_names(str(r.get("expr", ""))):
                refs.setdefault(metric, set()).add(f"{name}:{rid}")
            if "alert" not in r:
                continue
            alerts += 1
            if not (r.get("labels") or {}).get("severity"):
                failures.add(f"rules: {name}: alert {rid} has no severity label")
            ann = r.get("annotations") or {}
            for key in ("summary", "description", "runbook"):
                if not ann.get(key):
                    failures.add(f"rules: {name}: alert {rid} has no {key} annotation")
            runbook = ann.get("runbook", "")
            if runbook and anchors is not None:
                m = re.search(r"operations\.md#([\w\-]+)$", runbook)
                if not m:
                    failures.add(f"rules: {name}: alert {rid}: runbook {runbook!r} is not docs/operations.md#anchor")
                elif m.group(1) not in anchors:
                    failures.add(f"rules: {name}: alert {rid}: runbook anchor #{m.group(1)} is not a heading of {OPERATIONS}")
    check_names("rules", refs, types, samples, failures, allow_absent)
    return files, alerts


# ------------------------------------------------------------------------------ promtool


class Result:
    def __init__(self, returncode, output):
        self.returncode, self.output = returncode, output


def run(cmd, cwd=None):
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        return Result(p.returncode, p.stdout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Result(127, str(e))


def check_promtool(source, promtool, failures):
    rules_dir = os.path.join(source, RULES_DIR)
    names = sorted(f for f in os.listdir(rules_dir) if f.endswith((".yml", ".yaml")))
    tests = [f for f in names if f.endswith((".test.yml", ".test.yaml"))]
    rules = [f for f in names if f not in tests]
    if not tests:
        failures.add(f"promtool: no *.test.yml unit test file in {rules_dir}")
    # Unit tests name their rule files relative to themselves: run from the rules directory.
    for args, files in ((["check", "rules"], rules), (["test", "rules"], tests)):
        for f in files:
            r = run([promtool, *args, f], cwd=rules_dir)
            status = "ok" if r.returncode == 0 else "FAILED"
            print(f"promtool {' '.join(args)} {os.path.join(RULES_DIR, f)}: {status}")
            if r.returncode != 0:
                failures.add(f"promtool {' '.join(args)} {f} failed:\n" +
                             "\n".join("    " + line for line in r.output.rstrip().splitlines()))


# ------------------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source_dir")
    ap.add_argument("metrics_file")
    ap.add_argument("--promtool", default=os.environ.get("PROMTOOL") or shutil.which("promtool"),
                    help="path to promtool (default: $PROMTOOL or promtool on PATH)")
    ap.add_argument("--allow-absent", action="append", default=[], metavar="NAME",
                    help="a metric family that may legitimately have no series yet in METRICS_FILE "
                         "(a warning instead of a failure); repeatable")
    args = ap.parse_args()

    source = os.path.abspath(args.source_dir)
    for p in (os.path.join(source, DASHBOARD), os.path.join(source, RULES_DIR), args.metrics_file):
        if not os.path.exists(p):
            print(f"dashboard_metrics_test: {p} does not exist", file=sys.stderr)
            return 2

    failures = Failures()
    types, samples = parse_exposition(args.metrics_file)
    exposed = {n for n in set(types) | samples if n.startswith("chipwatch_")}
    if not exposed:
        failures.add(f"metrics: {args.metrics_file} holds no chipwatch_* metric (is it a /metrics exposition?)")
    promtool = args.promtool
    if not promtool or not os.path.exists(promtool):
        failures.add("promtool not found: install it (Debian: apt-get install prometheus) or pass --promtool PATH")
        promtool = None

    allow = set(args.allow_absent)
    nq = check_dashboard(source, types, samples, promtool, failures, allow)
    files, alerts = check_rules(source, types, samples, failures, allow)
    if promtool:
        check_promtool(source, promtool, failures)

    print(f"dashboard: {nq} Prometheus queries; rules: {alerts} alerts in {', '.join(files) or 'no file'}; "
          f"exposition: {len(exposed)} chipwatch_* names")
    if failures.items:
        print(f"\nFAILED: {len(failures.items)} problem(s):", file=sys.stderr)
        for f in failures.items:
            print(f"  - {f}", file=sys.stderr)
        return 1
    print("OK: every metric referenced by the dashboard and the alerting rules is exposed; promtool passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
