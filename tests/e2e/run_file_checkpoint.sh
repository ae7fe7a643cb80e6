#!/usr/bin/env bash
# `chipwatch run` with a followed file source and a checkpoint: lines written while the daemon is
# stopped are read after the restart (without a checkpoint, a followed file restarts at its end),
# and nothing is raised twice across a clean restart.
source "$(dirname "$0")/lib.bash"
cd "$SRC"
IN="$WORK/gpu.jsonl"
: >"$IN"
cat >"$WORK/run.yaml" <<YAML
rules: [$SRC/rules]
enrich: {geoip: $SRC/tests/data/geoip/test-country.mmdb, directory: $SRC/tests/data/directory.csv}
sources:
  - {type: file, path: $IN, format: gpu_alloc, follow: true, start_at: beginning,
     checkpoint: $WORK/gpu.pos}
sinks: [{type: file, path: $WORK/alerts.jsonl}]
metrics: {enabled: false}
YAML
keys() { [ -f "$1" ] && python3 -c 'import json,sys; [print(a["rule_id"], a["event_id"]) for a in map(json.loads, open(sys.argv[1]))]' "$1" | sort; }
"$CHIPWATCH" replay --rules rules --geoip tests/data/geoip/test-country.mmdb \
  --directory tests/data/directory.csv tests/data/samples/gpu_alloc.jsonl >"$WORK/expected.jsonl" 2>/dev/null
keys "$WORK/expected.jsonl" >"$WORK/expected.keys"
total=$(wc -l <"$WORK/expected.keys")
wait_alerts() {  # wait_alerts N: until the sink holds N alerts (30 s at most)
  for _ in $(seq 300); do
    [ "$(keys "$WORK/alerts.jsonl" | wc -l)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
start() { "$CHIPWATCH" run --config "$WORK/run.yaml" 2>>"$WORK/daemon.log" & pid=$!; sleep 1; }
stop() { kill -TERM "$pid"; local rc=0; wait "$pid" || rc=$?; [ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM"; }

start
head -5 tests/data/samples/gpu_alloc.jsonl >>"$IN"
first=$("$CHIPWATCH" replay --rules rules --geoip tests/data/geoip/test-country.mmdb \
  --directory tests/data/directory.csv "$IN" 2>/dev/null | wc -l)
wait_alerts "$first" && pass "first part: $first alerts" || fail "first part: $(keys "$WORK/alerts.jsonl" | wc -l) of $first alerts"
stop
grep -q "^chipwatch-file-checkpoint 1 .* $IN\$" "$WORK/gpu.pos" && pass "checkpoint written: $(cat "$WORK/gpu.pos")" \
  || fail "no checkpoint: $(cat "$WORK/gpu.pos" 2>&1)"
tail -n +6 tests/data/samples/gpu_alloc.jsonl >>"$IN"   # written while the daemon is stopped
start
wait_alerts "$total" && pass "after the restart: all $total alerts" \
  || fail "after the restart: $(keys "$WORK/alerts.jsonl" | wc -l) of $total alerts"
stop
grep -q "resuming at line 6 " "$WORK/daemon.log" && pass "resumed at line 6" \
  || fail "no resume notice: $(grep -i checkpoint "$WORK/daemon.log" | head -3)"
if keys "$WORK/alerts.jsonl" | cmp -s - "$WORK/expected.keys"; then
  pass "the same alerts as a replay of the whole file, none twice"
else
  fail "alerts differ from replay: $(keys "$WORK/alerts.jsonl" | diff - "$WORK/expected.keys" | head -5)"
fi
finish
