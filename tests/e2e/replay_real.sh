#!/usr/bin/env bash
# Real CloudTrail (tests/data/real: invictus-ir sample logs in S3 envelopes, stratus-red-team
# detonation captures as JSON arrays): everything decodes, and exactly the Bedrock capture alerts
# (its anonymized caller 035.249.253.232 sits in a restricted country in the test GeoIP database).
source "$(dirname "$0")/lib.bash"
cd "$SRC"
expect_exit 0 "replay real CloudTrail" -- "$CHIPWATCH" replay --rules rules \
  --geoip tests/data/geoip/test-country.mmdb tests/data/real/invictus-aws-cloudtrail/*.json \
  tests/data/real/stratus-detonation-logs/*.json
grep -q " 0 undecodable records" "$WORK/err" || fail "summary: $(cat "$WORK/err")"
python3 - "$WORK/out" <<'PY' || fail "real-data alerts"
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
got = sorted((a["rule_id"], a["action"], a["severity"], a["actor"]["country"]) for a in alerts)
want = sorted([("CW-AI-001", "InvokeModel", "high", "RU"),
               ("CW-AI-002", "CreateFoundationModelAgreement", "high", "RU"),
               ("CW-AI-002", "PutFoundationModelEntitlement", "high", "RU"),
               ("CW-AI-002", "PutUseCaseForModelAccess", "high", "RU")])
assert got == want, got
for a in alerts:
    assert a["origin"]["file"].endswith("aws.impact.bedrock-invoke-model.json"), a["origin"]
    assert a["origin"]["line"] > 1 and a["event_id"], a
    assert a["actor"]["source_ip"] == "035.249.253.232", a["actor"]
PY
# Without GeoIP nothing is known about the callers: no alert, and still no error.
expect_exit 0 "replay real CloudTrail without GeoIP" -- "$CHIPWATCH" replay --rules rules \
  tests/data/real/stratus-detonation-logs/*.json
[ ! -s "$WORK/out" ] && pass "no alerts without GeoIP" || fail "unexpected alerts: $(head -2 "$WORK/out")"
finish
