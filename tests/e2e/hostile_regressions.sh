#!/usr/bin/env bash
# Regression inputs for crashes and hangs found by fuzzing (issue 10, section 0, and
# tests/data/fuzz-regressions): replay never dies on them, and `check` refuses a YAML file that
# yaml-cpp 0.7.0 would loop on (a stray ',') within seconds, with file:line, exit 2.
source "$(dirname "$0")/lib.bash"
cd "$SRC"

# A replay that crashed dies by a signal (exit >= 128) or an ASan report (exit 1 with
# "ERROR: AddressSanitizer"): neither may happen.
expect_no_crash() {
  local what=$1
  if grep -q "Sanitizer" "$WORK/err"; then
    fail "$what: sanitizer report"
    head -20 "$WORK/err" >&2
  fi
}

# 1. The 20-byte envelope: the byte splitter reports a position before the fast path's last one.
printf '{"Records":["":},""}' >"$WORK/twenty.json"
expect_exit 1 "replay the 20-byte envelope (file)" -- timeout 30 "$CHIPWATCH" replay --rules rules \
  "$WORK/twenty.json"
expect_no_crash "20-byte envelope (file)"
grep -q "twenty.json:1[: ]" "$WORK/err" && pass "reported on line 1" \
  || fail "20-byte envelope not reported: $(head -3 "$WORK/err")"
expect_exit 1 "replay the 20-byte envelope (stdin)" -- timeout 30 bash -c \
  '"$1" replay --rules rules - <"$2"' _ "$CHIPWATCH" "$WORK/twenty.json"
expect_no_crash "20-byte envelope (stdin)"

# 2. Every file kept by the fuzzers: no crash, no hang, exit 0 or 1.
for f in tests/data/fuzz-regressions/replay/*; do
  [ -f "$f" ] || continue
  got=0
  timeout 60 "$CHIPWATCH" replay --rules rules "$f" >"$WORK/out" 2>"$WORK/err" || got=$?
  if [ "$got" -le 1 ]; then pass "replay $(basename "$f") (exit $got)"; else
    fail "replay $(basename "$f"): exit $got"; head -5 "$WORK/err" >&2; fi
  expect_no_crash "$(basename "$f")"
done

# 3. A real CloudTrail S3 object, one record per line inside its envelope, with one record damaged
#    as the 20-byte input is: the records before it alert, each error names the damaged line.
python3 - "$WORK/damaged.json" <<'EOF'
import json, sys
src = "tests/data/real/invictus-aws-cloudtrail/218007301253_CloudTrail_us-east-1_20230710T1205Z_SjF3IkuNXJkoHyar.json"
records = [json.dumps(r, separators=(",", ":")) for r in json.load(open(src))["Records"]]
records[5] = '"":},""'
with open(sys.argv[1], "w") as out:
    out.write('{"Records": [\n' + ",\n".join(records) + "\n]}\n")
EOF
expect_exit 1 "replay a real envelope with a damaged record" -- timeout 30 "$CHIPWATCH" replay \
  --rules rules "$WORK/damaged.json"
expect_no_crash "damaged real envelope"
grep -q "replay: 5 events" "$WORK/err" && pass "the 5 records before the damage decode" \
  || fail "damaged envelope summary: $(tail -1 "$WORK/err")"
grep -q "damaged.json:7 (record 5)" "$WORK/err" && pass "the damage is reported on its line (7)" \
  || fail "damage not reported on line 7: $(head -3 "$WORK/err")"
# The stray '}' leaves the envelope's own '}' on the last line (28) as a document of its own.
others=$(grep -o "damaged.json:[0-9]*" "$WORK/err" | sort -u | grep -v -e ':7$' -e ':28$' || true)
[ -z "$others" ] && pass "no error on another line" || fail "errors on other lines: $others"

# 4. YAML text yaml-cpp 0.7.0 loops on: check refuses it in bounded time with file:line:col.
printf ',' >"$WORK/comma.yaml"
printf ', ' >"$WORK/comma-space.yaml"
printf ',,,,,,,,\n' >"$WORK/commas.yaml"
printf -- '- list: gpus\n  items: [a100]\n,\n' >"$WORK/late-comma.yaml"
for f in comma comma-space commas late-comma; do
  start=$(date +%s)
  expect_exit 2 "check --rules $f.yaml" -- timeout 20 "$CHIPWATCH" check --rules "$WORK/$f.yaml"
  [ $(($(date +%s) - start)) -le 5 ] && pass "refused within 5 s" || fail "$f.yaml took too long"
  grep -q "$f.yaml:[0-9]*:[0-9]*: error: YAML syntax error: unexpected ','.*\[yaml-syntax\]" \
    "$WORK/out" "$WORK/err" && pass "$f.yaml: error with file:line:col" \
    || fail "$f.yaml: $(cat "$WORK/out" "$WORK/err" | head -3)"
done
grep -q "late-comma.yaml:3:1:" "$WORK/out" "$WORK/err" && pass "late comma on line 3, column 1" \
  || fail "late comma position: $(cat "$WORK/out" "$WORK/err" | head -3)"
for f in comma commas; do
  start=$(date +%s)
  expect_exit 2 "check --config $f.yaml" -- timeout 20 "$CHIPWATCH" check --config "$WORK/$f.yaml"
  [ $(($(date +%s) - start)) -le 5 ] && pass "refused within 5 s" || fail "$f.yaml took too long"
  grep -q "$f.yaml:1:1: error: YAML syntax error: unexpected ','" "$WORK/out" "$WORK/err" \
    && pass "config $f.yaml: error at 1:1" || fail "config $f.yaml: $(cat "$WORK/out" "$WORK/err" | head -3)"
done
# Found by fuzz_config: a stray ',' after NUL bytes.
expect_exit 2 "check --config nul-anchor-comma.yaml" -- timeout 20 "$CHIPWATCH" check --config \
  tests/data/fuzz-regressions/config/nul-anchor-comma.yaml
grep -q "nul-anchor-comma.yaml:1:[0-9]*: error: YAML syntax error" "$WORK/out" "$WORK/err" \
  && pass "NUL bytes then ',': refused with its position" \
  || fail "nul-anchor-comma.yaml: $(cat "$WORK/out" "$WORK/err" | head -3)"
# Found by fuzz_config: a quoted scalar's line that looks like a comment, then ','.
expect_exit 2 "check --config quoted-comment-line-comma.yaml" -- timeout 20 "$CHIPWATCH" check \
  --config tests/data/fuzz-regressions/config/quoted-comment-line-comma.yaml
grep -q "quoted-comment-line-comma.yaml:[0-9]*:[0-9]*: error: YAML syntax error" "$WORK/out" "$WORK/err" \
  && pass "quoted scalar, '#' line, then ',': refused with its position" \
  || fail "quoted-comment-line-comma.yaml: $(cat "$WORK/out" "$WORK/err" | head -3)"
# A valid config that names a rule file with a stray comma: refused through the config, too.
mkdir -p "$WORK/pack"
cp "$WORK/commas.yaml" "$WORK/pack/bad.yaml"
printf 'rules: [%s]\nsources: [{type: file, path: /dev/null}]\nsinks: [{type: stdout}]\n' \
  "$WORK/pack" >"$WORK/config.yaml"
expect_exit 2 "check --config naming a rule file with a stray comma" -- timeout 20 "$CHIPWATCH" \
  check --config "$WORK/config.yaml"
grep -q "pack/bad.yaml:1:1: error: YAML syntax error" "$WORK/out" "$WORK/err" \
  && pass "the rule file's position" || fail "rule file via config: $(cat "$WORK/out" "$WORK/err" | head -3)"

finish
