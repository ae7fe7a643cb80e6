#!/usr/bin/env bash
# The opt-in Entity List seed (config/watchlists/entity_list_ai_compute.yaml): it loads after the
# default pack, and a tenant whose directory organisation is a listed party raises CW-HW-003 only
# when the file is loaded (it is outside rules/, so `--rules rules` never picks it up).
source "$(dirname "$0")/lib.bash"
cd "$SRC"
SEED=config/watchlists/entity_list_ai_compute.yaml

expect_exit 0 "check pack + seed" -- "$CHIPWATCH" check --rules rules --rules "$SEED"
grep -q "0 errors" "$WORK/out" || fail "check summary: $(tail -1 "$WORK/out")"
expect_exit 0 "rule tests still pass with the seed loaded" -- "$CHIPWATCH" test --rules rules --rules "$SEED"
grep -q " 0 failed" "$WORK/out" || fail "rule tests with seed: $(grep FAIL "$WORK/out" | head)"

# Two tenants, both verified and registered in the US (so CW-HW-004 stays silent): one is a listed
# party (in a different letter case than the seed's entry), one is not. No GeoIP, so CW-HW-001 has
# no source.country; region us-east-1 is not restricted, so CW-HW-002 is silent too.
cat >"$WORK/directory.csv" <<'CSV'
tenant,org,country,kyc_status
t-listed,NETTRIX INFORMATION INDUSTRY CO., LTD.,US,verified
t-plain,Example Robotics Inc.,US,verified
CSV
# The org contains commas: quote it as CSV requires.
sed -i 's/^t-listed,\(.*\),US,verified$/t-listed,"\1",US,verified/' "$WORK/directory.csv"
cat >"$WORK/events.jsonl" <<'JSONL'
{"schema":"gpu-alloc/v1","event_id":"seed-1","time":"2026-06-01T10:00:00Z","action":"allocate","cluster":"gpucloud-us1","node":"us1-n1","tenant":"t-listed","user":"u1","gpu_model":"NVIDIA H100 80GB HBM3","gpu_count":8,"job_id":"j-1","region":"us-east-1","src_ip":"192.0.2.10"}
{"schema":"gpu-alloc/v1","event_id":"seed-2","time":"2026-06-01T10:01:00Z","action":"allocate","cluster":"gpucloud-us1","node":"us1-n2","tenant":"t-plain","user":"u2","gpu_model":"NVIDIA H100 80GB HBM3","gpu_count":8,"job_id":"j-2","region":"us-east-1","src_ip":"192.0.2.11"}
{"schema":"gpu-alloc/v1","event_id":"seed-3","time":"2026-06-01T10:02:00Z","action":"allocate","cluster":"gpucloud-us1","node":"us1-n3","tenant":"t-listed","user":"u1","gpu_model":"Tesla T4","gpu_count":1,"job_id":"j-3","region":"us-east-1","src_ip":"192.0.2.10"}
JSONL

expect_exit 0 "replay without the seed" -- "$CHIPWATCH" replay --quiet --rules rules --directory "$WORK/directory.csv" "$WORK/events.jsonl"
if grep -q '"rule_id":"CW-HW-003"' "$WORK/out"; then fail "CW-HW-003 fired without the seed: $(cat "$WORK/out")"; else
  pass "no CW-HW-003 without the seed"; fi

expect_exit 0 "replay with the seed" -- "$CHIPWATCH" replay --quiet --rules rules --rules "$SEED" --directory "$WORK/directory.csv" "$WORK/events.jsonl"
n=$(grep -c '"rule_id":"CW-HW-003"' "$WORK/out" || true)
[ "$n" -eq 1 ] && pass "exactly one CW-HW-003 with the seed" || fail "CW-HW-003 count $n with the seed: $(cat "$WORK/out")"
grep '"rule_id":"CW-HW-003"' "$WORK/out" | grep -q '"seed-1"' || fail "CW-HW-003 not for the listed tenant's H100 allocation"
grep '"rule_id":"CW-HW-003"' "$WORK/out" | grep -q '"critical"' || fail "CW-HW-003 not critical"
finish
