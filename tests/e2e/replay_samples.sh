#!/usr/bin/env bash
# Replays the bundled samples of every format and compares the alerts with the expected ones
# (tests/data/expected/samples.alerts.jsonl). UPDATE_GOLDEN=1 rewrites the expected file.
source "$(dirname "$0")/lib.bash"
cd "$SRC"
SAMPLES=(tests/data/samples/cloudtrail.jsonl tests/data/samples/gcp_audit.jsonl
         tests/data/samples/azure_activity.jsonl tests/data/samples/k8s_audit.jsonl
         tests/data/samples/gpu_alloc.jsonl
         tests/data/ownership/cloudtrail.jsonl tests/data/ownership/gpu_alloc.jsonl)
ARGS=(--rules rules --geoip tests/data/geoip/test-country.mmdb --directory tests/data/directory.csv)
EXPECTED=tests/data/expected/samples.alerts.jsonl

expect_exit 0 "replay samples, 1 thread" -- "$CHIPWATCH" replay "${ARGS[@]}" "${SAMPLES[@]}"
cp "$WORK/out" "$WORK/one.jsonl"
grep -q "undecodable" "$WORK/err" || fail "no summary line"
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then cp "$WORK/one.jsonl" "$EXPECTED"; fi
if diff -u "$EXPECTED" "$WORK/one.jsonl" >"$WORK/diff"; then pass "alerts match $EXPECTED"; else
  fail "alerts differ from $EXPECTED"; head -40 "$WORK/diff" >&2; fi

# Every line is JSON with the documented keys; every rule of the pack fires somewhere.
python3 - "$WORK/one.jsonl" <<'PY' || fail "alert schema"
import json, sys
head = ["schema", "kind", "rule_id", "title", "severity", "event_id", "event_time", "format", "action",
        "outcome", "actor", "resource", "reason"]
tail = ["matched", "tags", "origin"]
stateful = ["group", "count", "first_seen", "last_seen", "events"]
keys = {"event": head + tail, "summary": head + stateful + tail,
        "correlation": head + stateful + ["values"] + tail}  # the pack's correlations: value_count
rules = set()
for n, line in enumerate(open(sys.argv[1]), 1):
    a = json.loads(line)
    assert list(a.keys()) == keys[a["kind"]], (n, list(a.keys()))
    assert a["severity"] in ("info", "low", "medium", "high", "critical"), a["severity"]
    assert a["event_id"] and a["origin"]["file"] and a["origin"]["line"] > 0, a
    assert a["reason"] and a["matched"], a
    rules.add(a["rule_id"])
missing = {"CW-HW-001", "CW-HW-002", "CW-HW-004", "CW-HW-005", "CW-AI-001", "CW-AI-002",
           "CW-AI-003"} - rules
assert not missing, missing
PY

expect_exit 0 "replay samples, 2 threads" -- "$CHIPWATCH" replay --threads 2 "${ARGS[@]}" "${SAMPLES[@]}"
cmp -s "$WORK/out" "$WORK/one.jsonl" && pass "2 threads give identical output" || fail "2 threads differ"

cat "${SAMPLES[@]}" >"$WORK/all.jsonl"
expect_exit 0 "replay from stdin" -- bash -c "\"$CHIPWATCH\" replay ${ARGS[*]} - < \"$WORK/all.jsonl\""
[ "$(wc -l <"$WORK/out")" -eq "$(wc -l <"$WORK/one.jsonl")" ] && pass "stdin gives the same alert count" \
  || fail "stdin alert count $(wc -l <"$WORK/out") vs $(wc -l <"$WORK/one.jsonl")"
grep -q '"file":"-"' "$WORK/out" || fail "stdin origin not '-'"
finish
