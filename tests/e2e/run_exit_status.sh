#!/usr/bin/env bash
# `chipwatch run` stops loudly (issue 10, sections 1 and 2): an alert a sink refuses for good is
# dead-lettered, or the daemon exits 1 without checkpointing past it; a sink or metrics port that
# cannot be opened exits 1; configuration errors exit 2; a reload keeps --log-level.
# (Fatal Kafka client errors and a broker that refuses the TLS or SASL handshake: the kafka tests.)
source "$(dirname "$0")/lib.bash"
cd "$SRC"
IN="$WORK/gpu.jsonl"
ENRICH="enrich: {geoip: $SRC/tests/data/geoip/test-country.mmdb, directory: $SRC/tests/data/directory.csv}"
# The sample's lines that raise no alert first, then those that do: the first refusal is then
# well inside the file, and the checkpoint must stop before it.
"$CHIPWATCH" replay --rules rules --geoip tests/data/geoip/test-country.mmdb \
  --directory tests/data/directory.csv tests/data/samples/gpu_alloc.jsonl 2>/dev/null >"$WORK/sample.alerts"
python3 - tests/data/samples/gpu_alloc.jsonl "$WORK/sample.alerts" >"$IN" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
alerting = {json.loads(a)["origin"]["line"] for a in open(sys.argv[2])}
quiet = [l for i, l in enumerate(lines, 1) if i not in alerting]
loud = [l for i, l in enumerate(lines, 1) if i in alerting]
assert quiet and loud, (len(quiet), len(loud))
sys.stdout.write("".join(quiet + loud))
PY
# The first line of the input that raises an alert (the position the refusal must be named at).
"$CHIPWATCH" replay --rules rules --geoip tests/data/geoip/test-country.mmdb \
  --directory tests/data/directory.csv "$IN" 2>/dev/null >"$WORK/in.alerts"
first_alerting=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["origin"]["line"])' "$WORK/in.alerts")
config() {  # config NAME SINKS [EXTRA]: a daemon that reads $IN once (no follow), with a checkpoint
  cat >"$WORK/$1.yaml" <<YAML
rules: [$SRC/rules]
$ENRICH
sources: [{type: file, path: $IN, format: gpu_alloc, checkpoint: $WORK/$1.pos}]
sinks: $2
${3:-}
metrics: {enabled: false}
YAML
}

# 1. stdout closed by its reader (EPIPE): refused for good, no dead letter -> exit 1, and the
# checkpoint stays before the refused line.
config closed "[{type: stdout}]"
set +e
timeout 60 "$CHIPWATCH" run --config "$WORK/closed.yaml" 2>"$WORK/closed.log" | true
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 1 ] && pass "closed stdout, no dead letter: exit 1" || fail "closed stdout: exit $rc"
grep -q "sink stdout refused a record of $IN:$first_alerting for good" "$WORK/closed.log" \
  && pass "the log names the sink and $IN:$first_alerting" \
  || fail "no refusal line: $(grep -i -m3 'refused\|critical' "$WORK/closed.log")"
grep -q "exit status 1" "$WORK/closed.log" && pass "the log says exit status 1" || fail "no exit-status line"
# The checkpoint's 6th field is the next line to read: at most the refused line.
resume=$(awk '{print $6}' "$WORK/closed.pos" 2>/dev/null || true)
[ "${resume:-1}" -le "$first_alerting" ] \
  && pass "checkpoint resumes at line ${resume:-1}, not past the refused line $first_alerting" \
  || fail "checkpoint past the refused line $first_alerting: $(cat "$WORK/closed.pos")"

# 2. The same with a dead letter: every refused alert is there (reason sink_rejected, the sink,
# the source line); the file is read to its end and the run exits 0.
config rescued "[{type: stdout}]" "dead_letter: {type: file, path: $WORK/dead.jsonl}"
set +e
timeout 60 "$CHIPWATCH" run --config "$WORK/rescued.yaml" 2>"$WORK/rescued.log" | true
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] && pass "closed stdout with a dead letter: exit 0" \
  || fail "with a dead letter: exit $rc: $(tail -3 "$WORK/rescued.log")"
expected=$("$CHIPWATCH" replay --rules rules --geoip tests/data/geoip/test-country.mmdb \
  --directory tests/data/directory.csv "$IN" 2>/dev/null | wc -l)
got=$(python3 - "$WORK/dead.jsonl" <<'PY'
import base64, json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    h = d["headers"]
    assert d["reason"] == "sink_rejected", d
    assert h["chipwatch.sink"] == "stdout" and h["chipwatch.error"], h
    assert h["chipwatch.source.line"].isdigit(), h
    alert = json.loads(base64.b64decode(d["original_base64"]))
    assert alert["origin"]["line"] == int(h["chipwatch.source.line"]), (alert["origin"], h)
    n += 1
print(n)
PY
) || got="error"
[ "$got" = "$expected" ] && pass "all $expected refused alerts dead-lettered with their headers" \
  || fail "dead letters: $got of $expected"

# 3. A Kafka property librdkafka refuses is a configuration error: exit 2, naming it.
config badprop "[{type: kafka, brokers: 127.0.0.1:1, topic: x, properties: {no.such.property: '1'}}]"
expect_exit 2 "a Kafka property librdkafka refuses" -- timeout 30 "$CHIPWATCH" run --config "$WORK/badprop.yaml"
grep -q "no.such.property" "$WORK/err" && pass "named" || fail "not named: $(tail -2 "$WORK/err")"

# 4. A metrics port that cannot be opened (already taken): exit 1, restarted by systemd.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); open('$WORK/bound','w').close(); time.sleep(60)" &
holder=$!
for _ in $(seq 200); do [ -f "$WORK/bound" ] && break; sleep 0.05; done
sed "s|metrics: {enabled: false}|metrics: {listen: 127.0.0.1:$port}|" "$WORK/rescued.yaml" >"$WORK/port.yaml"
expect_exit 1 "a metrics port already in use" -- timeout 30 "$CHIPWATCH" run --config "$WORK/port.yaml"
kill "$holder" 2>/dev/null || true

# 5. Configuration errors stay exit 2.
sed "s|rules: \[$SRC/rules\]|rules: [$WORK/no-such-rules]|" "$WORK/rescued.yaml" >"$WORK/bad.yaml"
expect_exit 2 "missing rules" -- timeout 30 "$CHIPWATCH" run --config "$WORK/bad.yaml"

# 6. A reload keeps the --log-level of the command line (the config says info).
cat >"$WORK/follow.yaml" <<YAML
rules: [$SRC/rules]
$ENRICH
sources: [{type: file, path: $IN, format: gpu_alloc, follow: true}]
sinks: [{type: file, path: $WORK/alerts.jsonl}]
metrics: {enabled: false}
log: {level: info}
YAML
"$CHIPWATCH" run --config "$WORK/follow.yaml" --log-level debug 2>"$WORK/follow.log" &
pid=$!
for _ in $(seq 100); do grep -q "running:" "$WORK/follow.log" && break; sleep 0.1; done
kill -HUP "$pid"
for _ in $(seq 100); do grep -q "reload done" "$WORK/follow.log" && break; sleep 0.1; done
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 0 ] && pass "SIGTERM: exit 0" || fail "exit $rc after SIGTERM"
grep -q "reload done: .* log level debug (--log-level)" "$WORK/follow.log" \
  && pass "the reload kept --log-level debug" \
  || fail "log level after reload: $(grep 'reload done' "$WORK/follow.log")"
finish
