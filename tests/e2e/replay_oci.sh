#!/usr/bin/env bash
# Replays the OCI Audit sample (tests/data/samples/oci_audit.jsonl) with --format oci_audit and
# with detection, alone and mixed with the other formats' samples, and checks which records alert
# (CW-HW-001 / CW-HW-002 on BM.GPU shapes) and which do not (GetInstance, VM.Standard.E4.Flex).
source "$(dirname "$0")/lib.bash"
cd "$SRC"
SAMPLE=tests/data/samples/oci_audit.jsonl
ARGS=(--rules rules --geoip tests/data/geoip/test-country.mmdb --directory tests/data/directory.csv)

check_alerts() {  # check_alerts FILE WHAT
  python3 - "$1" <<'PY' || fail "$2: alerts"
import json, sys
got = set()
for line in open(sys.argv[1]):
    a = json.loads(line)
    if a["format"] != "oci_audit":
        continue
    got.add((a["rule_id"], a["severity"], a["event_id"]))
want = {
    ("CW-HW-001", "critical", "oci-0002-launch-h100"),
    ("CW-HW-002", "medium", "oci-0004-update-shape-dubai"),
    ("CW-HW-001", "critical", "oci-0005-launch-denied"),
    ("CW-HW-001", "critical", "oci-0006-create-pool"),
    ("CW-HW-001", "critical", "oci-0007-cluster-network-logging"),
    ("CW-HW-001", "medium", "oci-0008-launch-logcontent"),
    ("CW-HW-001", "critical", "oci-0009-capacity-reservation"),
}
assert got == want, ("missing", want - got, "unexpected", got - want)
PY
}

expect_exit 0 "replay --format oci_audit" -- "$CHIPWATCH" replay "${ARGS[@]}" --format oci_audit "$SAMPLE"
check_alerts "$WORK/out" "--format oci_audit" && pass "--format oci_audit: the expected alerts"
grep -q "9 events, 7 alerts, 0 undecodable" "$WORK/err" || fail "summary: $(tail -1 "$WORK/err")"

expect_exit 0 "replay, format detected" -- "$CHIPWATCH" replay "${ARGS[@]}" "$SAMPLE"
check_alerts "$WORK/out" "auto" && pass "auto: the expected alerts"
grep -q '"provider":"oci"\|"format":"oci_audit"' "$WORK/out" || fail "alerts do not name oci_audit"

# Mixed with every other format's sample: each record still finds its decoder.
cat tests/data/samples/{cloudtrail,gcp_audit,azure_activity,k8s_audit,gpu_alloc}.jsonl "$SAMPLE" \
  >"$WORK/mixed.jsonl"
expect_exit 0 "replay mixed formats" -- "$CHIPWATCH" replay "${ARGS[@]}" "$WORK/mixed.jsonl"
check_alerts "$WORK/out" "mixed" && pass "mixed: the OCI alerts are the same"

# Another format named explicitly does not take OCI records.
expect_exit 1 "replay --format cloudtrail on OCI records" -- \
  "$CHIPWATCH" replay "${ARGS[@]}" --format cloudtrail "$SAMPLE"
grep -q "missing required field 'eventName'" "$WORK/err" || fail "cloudtrail error not reported"
finish
