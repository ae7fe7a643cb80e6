#!/usr/bin/env bash
# Suppression and correlations in replay (docs/stateful.md) on a generated CloudTrail stream: the
# output is byte-identical for --threads 1, 2 and 4; every line is a JSON alert of its kind; the
# suppressed rule's event alerts plus its summaries' counts are exactly its matches without
# suppression; correlation and summary alerts carry what docs/alerts.md says.
source "$(dirname "$0")/lib.bash"
cd "$SRC"
python3 bench/gen_events.py --format cloudtrail --count 20000 --seed 7 --out "$WORK/events.jsonl"
ARGS=(--geoip tests/data/geoip/test-country.mmdb --directory tests/data/directory.csv)

# A Bedrock rule suppressed per (account, model); launches and denied calls feeding correlations.
write_rules() {  # $1: file, $2: the invoke rule's extra line (suppress or nothing)
  cat >"$1" <<YAML
rules:
  - id: X-INVOKE
    title: Bedrock invocation
    severity: low
    tags: [test]
    reason: "{action} of {model.id}"
    condition: {in: {field: action, items: [InvokeModel, Converse, InvokeModelWithResponseStream, ConverseStream]}}
    $2
  - id: X-LAUNCH
    title: Launch
    severity: info
    alert: false
    condition: {in: {field: action, items: [RunInstances, CreateFleet, RequestSpotInstances, CreateTrainingJob, CreateCapacityReservation]}}
  - id: X-DENIED
    title: Denied call
    severity: info
    alert: false
    condition: {exists: error.code}
correlations:
  - id: X-CORR-V
    title: Launches in several accounts of one region
    severity: high
    type: value_count
    rules: [X-LAUNCH]
    group_by: [region]
    field: account
    timespan: 2m
    condition: {gte: 3}
    reason: "{count} accounts launched in {group.region}"
  - id: X-CORR-E
    title: Denied calls in one account
    severity: medium
    type: event_count
    rules: [X-DENIED]
    group_by: [account]
    timespan: 1m
    condition: {gte: 2}
    suppress: {for: 1m}
  - id: X-CORR-T
    title: Launch and denied call in one account
    severity: medium
    type: temporal
    rules: [X-LAUNCH, X-DENIED]
    group_by: [account]
    timespan: 1m
YAML
}
write_rules "$WORK/stateful.yaml" "suppress: {by: [account, model.id], for: 1m}"
write_rules "$WORK/plain.yaml" ""

expect_exit 0 "replay with suppression and correlations, 1 thread" -- \
  "$CHIPWATCH" replay --rules rules --rules "$WORK/stateful.yaml" "${ARGS[@]}" "$WORK/events.jsonl"
cp "$WORK/out" "$WORK/one.jsonl"
grep -q "alerts by kind: [0-9]* event, [1-9][0-9]* correlation, [1-9][0-9]* summary" "$WORK/err" \
  || fail "no alerts by kind: $(cat "$WORK/err")"
for threads in 2 4; do
  expect_exit 0 "replay, $threads threads" -- "$CHIPWATCH" replay --threads "$threads" \
    --rules rules --rules "$WORK/stateful.yaml" "${ARGS[@]}" "$WORK/events.jsonl"
  cmp -s "$WORK/out" "$WORK/one.jsonl" && pass "$threads threads give identical output" \
    || fail "$threads threads differ"
done
expect_exit 0 "replay without suppression" -- \
  "$CHIPWATCH" replay --rules rules --rules "$WORK/plain.yaml" "${ARGS[@]}" "$WORK/events.jsonl"
cp "$WORK/out" "$WORK/plain.jsonl"

python3 - "$WORK/one.jsonl" "$WORK/plain.jsonl" <<'PY' || fail "stateful alerts"
import collections, json, sys
keys = ["schema", "kind", "rule_id", "title", "severity", "event_id", "event_time", "format",
        "action", "outcome", "actor", "resource", "reason"]
stateful_keys = ["group", "count", "first_seen", "last_seen", "events"]
tail = ["matched", "tags", "origin"]
alerts = [json.loads(l) for l in open(sys.argv[1])]
plain = [json.loads(l) for l in open(sys.argv[2])]
kinds = collections.Counter((a["kind"], a["rule_id"]) for a in alerts)
for a in alerts:
    value_count = a["rule_id"] == "X-CORR-V" or a["rule_id"].startswith("CW-CORR-")
    want = keys + (stateful_keys + (["values"] if value_count else [])
                   if a["kind"] != "event" else []) + tail
    assert list(a) == want, (list(a), want)
    assert a["rule_id"] not in ("X-LAUNCH", "X-DENIED"), a  # alert: false
    if a["kind"] == "event" or not a["rule_id"].startswith("X-"):
        continue  # the default pack's own suppression and correlations: only their keys here
    assert a["count"] >= 1 and a["first_seen"] <= a["last_seen"], a
    assert 1 <= len(a["events"]) <= 20 and a["event_id"] == a["events"][-1], a
    if a["kind"] == "summary":
        assert a["rule_id"] == "X-INVOKE" and set(a["group"]) == {"account", "model.id"}, a
        assert a["count"] >= len(a["events"]) and "not raised" in a["reason"], a
    elif a["rule_id"] == "X-CORR-V":
        assert a["count"] == 3 and a["values"] == sorted(set(a["values"])), a
        assert len(a["values"]) == 3 and a["actor"]["account"] in a["values"], a
        assert a["reason"] == f"3 accounts launched in {a['group']['region']}", a
    elif a["rule_id"] == "X-CORR-E":
        assert a["count"] == 2 and list(a["group"]) == ["account"], a
    else:
        assert a["rule_id"] == "X-CORR-T" and a["count"] == 2, a
for kind, rule in [("event", "X-INVOKE"), ("summary", "X-INVOKE"), ("correlation", "X-CORR-V"),
                   ("correlation", "X-CORR-E"), ("correlation", "X-CORR-T")]:
    assert kinds[(kind, rule)] > 0, (kind, rule, kinds)
# Suppression loses no match: raised + suppressed = every match without suppression.
matches = sum(1 for a in plain if a["rule_id"] == "X-INVOKE")
raised = kinds[("event", "X-INVOKE")]
suppressed = sum(a["count"] for a in alerts if a["kind"] == "summary" and a["rule_id"] == "X-INVOKE")
assert raised + suppressed == matches and raised < matches, (raised, suppressed, matches)
# Everything else is as without suppression, in the same order.
strip = lambda xs: [a for a in xs if a["rule_id"] not in ("X-INVOKE",) and a["kind"] == "event"]
assert strip(alerts) == strip(plain)
print(dict(kinds))
PY
finish
