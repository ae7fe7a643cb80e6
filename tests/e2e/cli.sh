#!/usr/bin/env bash
# The command line: usage errors, exit codes, check and test on the default pack.
source "$(dirname "$0")/lib.bash"
cd "$SRC"

expect_exit 2 "no command" -- "$CHIPWATCH"
expect_exit 2 "unknown command" -- "$CHIPWATCH" frobnicate
expect_exit 0 "version" -- "$CHIPWATCH" version
grep -q '^chipwatch [0-9]' "$WORK/out" && grep -q hyperscan "$WORK/out" || fail "version output: $(cat "$WORK/out")"
expect_exit 2 "replay without input" -- "$CHIPWATCH" replay
expect_exit 2 "replay unknown option" -- "$CHIPWATCH" replay --frob x tests/data/samples/cloudtrail.jsonl
expect_exit 2 "replay bad format" -- "$CHIPWATCH" replay --format syslog tests/data/samples/cloudtrail.jsonl
grep -q "invalid value for --format" "$WORK/err" || fail "bad format message"
expect_exit 2 "replay missing file" -- "$CHIPWATCH" replay /nonexistent/x.json
grep -q "/nonexistent/x.json" "$WORK/err" || fail "missing file not named"
expect_exit 2 "replay bad geoip" -- "$CHIPWATCH" replay --geoip README.md tests/data/samples/cloudtrail.jsonl
expect_exit 0 "check default pack" -- "$CHIPWATCH" check --rules rules
grep -q "0 errors" "$WORK/out" || fail "check summary: $(tail -1 "$WORK/out")"
expect_exit 0 "test default pack" -- "$CHIPWATCH" test --rules rules
grep -q " 0 failed" "$WORK/out" || fail "rule tests: $(grep FAIL "$WORK/out" | head)"
for id in CW-HW-001 CW-HW-002 CW-HW-003 CW-HW-004 CW-AI-001 CW-AI-002; do
  grep -q "^PASS $id " "$WORK/out" || fail "rule $id not tested and passing"
done
expect_exit 2 "test unknown rule id" -- "$CHIPWATCH" test --rules rules --rule CW-NOPE-1
expect_exit 0 "watch-list example with populated lists" -- "$CHIPWATCH" test --rules rules --rules docs/examples/watchlist-example.yaml
grep -q "^PASS EXAMPLE-WATCHLIST-001 " "$WORK/out" || fail "watch-list example: $(grep FAIL "$WORK/out" | head)"

# A broken rule file: check reports file:line:col and exits 2; replay refuses to run.
cat >"$WORK/bad.yaml" <<'YAML'
rules:
  - id: BAD-1
    title: broken
    severity: critical
    condition:
      equals: {field: sorce.ip, value: x}
YAML
expect_exit 2 "check broken rule" -- "$CHIPWATCH" check --rules rules --rules "$WORK/bad.yaml"
grep -q "bad.yaml:6:[0-9]*: error: .*sorce.ip" "$WORK/out" || fail "check position: $(cat "$WORK/out")"
expect_exit 2 "check --json broken rule" -- "$CHIPWATCH" check --json --rules "$WORK/bad.yaml"
grep -q '"line":6' "$WORK/out" || fail "json diagnostics: $(cat "$WORK/out")"
expect_exit 2 "replay with broken rules" -- "$CHIPWATCH" replay --rules "$WORK/bad.yaml" tests/data/samples/cloudtrail.jsonl

# Suppression and correlations (issue 13): a valid file is counted in check's summary, and its
# multi-event tests run (a failing one shows expected and got); a broken one is refused with
# file:line:col.
cat >"$WORK/corr.yaml" <<'YAML'
rules:
  - id: E2E-SUPPRESSED-1
    title: launches, one alert per account an hour
    severity: low
    suppress: {by: [account], for: 1h}
    condition: {equals: {field: action, value: RunInstances}}
    tests:
      - name: repeats
        events:
          - {format: cloudtrail, event: {eventName: RunInstances, recipientAccountId: "1"}}
          - {format: cloudtrail, event: {eventName: RunInstances, recipientAccountId: "1"}}
        expect:
          - {rule: E2E-SUPPRESSED-1, kind: event}
          - {rule: E2E-SUPPRESSED-1, kind: summary, group: {account: "1"}, count: 1}
correlations:
  - id: E2E-CORR-1
    title: many launches from one address
    severity: medium
    type: event_count
    rules: [E2E-SUPPRESSED-1, CW-HW-001]
    group_by: [source.ip]
    timespan: 1h
    condition: {gte: 5}
    tests:
      - {events: [{format: cloudtrail, event: {eventName: RunInstances}}], expect: []}
YAML
# The pack's own counts, then the same plus this file's one suppressed rule, one correlation and
# two multi-event tests.
expect_exit 0 "check --json of the pack" -- "$CHIPWATCH" check --json --rules rules
pack_count() { tail -1 "$WORK/out" | python3 -c "import json,sys; print(json.load(sys.stdin)['summary']['$1'])"; }
pack_suppressed=$(pack_count rules_suppressed)
pack_correlations=$(pack_count correlations)
pack_multi=$(pack_count multi_event_tests)
expect_exit 0 "check with a correlation" -- "$CHIPWATCH" check --rules rules --rules "$WORK/corr.yaml"
grep -q "$((pack_suppressed + 1)) suppressed.* $((pack_correlations + 1)) correlations ($((pack_correlations + 1)) enabled).* 0 errors" "$WORK/out" \
  || fail "check summary with a correlation: $(tail -1 "$WORK/out")"
expect_exit 0 "check --json with a correlation" -- "$CHIPWATCH" check --json --rules rules --rules "$WORK/corr.yaml"
tail -1 "$WORK/out" | grep -q "^{\"summary\":{.*\"rules_suppressed\":$((pack_suppressed + 1)),.*\"correlations\":$((pack_correlations + 1)),.*\"multi_event_tests\":$((pack_multi + 2)),.*\"errors\":0," \
  || fail "check --json summary: $(tail -1 "$WORK/out")"
expect_exit 0 "test runs multi-event tests" -- "$CHIPWATCH" test --rules rules --rules "$WORK/corr.yaml"
grep -q " 0 failed" "$WORK/out" && grep -q "^PASS E2E-CORR-1 " "$WORK/out" \
  && grep -q "^PASS E2E-SUPPRESSED-1 (1 tests, 1 multi-event)" "$WORK/out" \
  || fail "test with multi-event tests: $(tail -4 "$WORK/out")"
sed 's/count: 1}/count: 2}/' "$WORK/corr.yaml" >"$WORK/corr-wrong.yaml"
expect_exit 1 "a failing multi-event test" -- "$CHIPWATCH" test --rules rules --rules "$WORK/corr-wrong.yaml"
grep -q "FAIL E2E-SUPPRESSED-1  repeats .*: alerts differ (expected 2, got 2)" "$WORK/out" \
  && grep -q "1. ok       event E2E-SUPPRESSED-1" "$WORK/out" \
  && grep -q "2. expected summary E2E-SUPPRESSED-1 group {account: 1} count 2" "$WORK/out" \
  && grep -q "got      summary E2E-SUPPRESSED-1 group {account: 1} count 1" "$WORK/out" \
  || fail "multi-event diff: $(cat "$WORK/out")"
cat >"$WORK/bad-corr.yaml" <<'YAML'
correlations:
  - id: BAD-CORR-1
    title: broken
    severity: high
    type: value_count
    rules: [CW-NOPE-1]
    group_by: [source.ip]
    timespan: 31d
    condition: {gte: 3}
YAML
expect_exit 2 "check broken correlation" -- "$CHIPWATCH" check --rules rules --rules "$WORK/bad-corr.yaml"
grep -q "bad-corr.yaml:2:5: error: .*has no 'field'.*\[missing-key\]" "$WORK/out" \
  && grep -q "bad-corr.yaml:6:13: error: .*CW-NOPE-1.*\[unknown-rule\]" "$WORK/out" \
  && grep -q "bad-corr.yaml:8:15: error: .*over 30 days.*\[window-too-long\]" "$WORK/out" \
  || fail "broken correlation positions: $(cat "$WORK/out")"
expect_exit 2 "replay with a broken correlation" -- "$CHIPWATCH" replay --rules rules --rules "$WORK/bad-corr.yaml" tests/data/samples/cloudtrail.jsonl

# The daemon's config: the checkout's local config is valid with its rules; a broken one is
# reported with file:line:col and exit 2; run refuses to start on it.
expect_exit 0 "check --config config/local.yaml" -- "$CHIPWATCH" check --config config/local.yaml
printf 'rules: [rules]\nsources:\n  - type: kafka\n    brokers: 127.0.0.1:1\n    group: g\n    topics: [{topic: t, format: syslog}]\nsinks: [{type: stdout}]\nbogus: 1\n' >"$WORK/bad-config.yaml"
expect_exit 2 "check --config with errors" -- "$CHIPWATCH" check --config "$WORK/bad-config.yaml"
grep -q "bad-config.yaml:6:[0-9]*: error: .*syslog" "$WORK/out" || fail "format error position: $(cat "$WORK/out")"
grep -q "bad-config.yaml:8:[0-9]*: error: .*bogus" "$WORK/out" || fail "unknown key position: $(cat "$WORK/out")"
expect_exit 2 "run with a broken config" -- "$CHIPWATCH" run --config "$WORK/bad-config.yaml"
expect_exit 2 "run without --config" -- "$CHIPWATCH" run
finish
