#!/usr/bin/env bash
# The real-time wrappers raise the same alerts as the bare records: CloudTrail records inside
# Amazon EventBridge events, and Kubernetes audit events in the webhook's EventList batches.
source "$(dirname "$0")/lib.bash"
cd "$SRC"
ENRICH=(--geoip tests/data/geoip/test-country.mmdb --directory tests/data/directory.csv)
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
with open(f"{work}/eventbridge.jsonl", "w") as out:
    for line in open("tests/data/samples/cloudtrail.jsonl"):
        r = json.loads(line)
        out.write(json.dumps({"version": "0", "id": "eb-" + r["eventID"],
                              "detail-type": "AWS API Call via CloudTrail",
                              "source": "aws." + r["eventSource"].split(".")[0],
                              "account": r.get("recipientAccountId", ""), "time": r["eventTime"],
                              "region": r.get("awsRegion", ""), "resources": [], "detail": r}) + "\n")
items = [json.loads(line) for line in open("tests/data/samples/k8s_audit.jsonl")]
with open(f"{work}/eventlist.json", "w") as out:
    json.dump({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
               "items": items}, out, indent=2)
PY
keys() { python3 -c 'import json,sys; [print(a["rule_id"], a["event_id"], a["severity"]) for a in map(json.loads, open(sys.argv[1]))]' "$1" | sort; }
for pair in "cloudtrail.jsonl eventbridge.jsonl" "k8s_audit.jsonl eventlist.json"; do
  set -- $pair
  expect_exit 0 "replay $1" -- "$CHIPWATCH" replay --rules rules "${ENRICH[@]}" "tests/data/samples/$1"
  keys "$WORK/out" >"$WORK/plain.keys"
  expect_exit 0 "replay $2" -- "$CHIPWATCH" replay --rules rules "${ENRICH[@]}" "$WORK/$2"
  keys "$WORK/out" >"$WORK/wrapped.keys"
  if [ -s "$WORK/plain.keys" ] && cmp -s "$WORK/plain.keys" "$WORK/wrapped.keys"; then
    pass "$2 raises the same $(wc -l <"$WORK/plain.keys") alerts as $1"
  else
    fail "$2 alerts differ from $1: $(diff "$WORK/plain.keys" "$WORK/wrapped.keys" | head -5)"
  fi
done
finish
