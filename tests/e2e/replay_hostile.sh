#!/usr/bin/env bash
# Hostile input never crashes or hangs replay: every bad record is reported with file:line and the
# valid records around it still alert.
source "$(dirname "$0")/lib.bash"
cd "$SRC"
GOOD=$(sed -n 1p tests/data/samples/cloudtrail.jsonl)   # p5.48xlarge from CN: one CW-HW-001 alert
F="$WORK/hostile.jsonl"
{
  echo "$GOOD"                                                   # 1
  echo '{"eventVersion":"1.08","eventID":"x","eventName":'        # 2 truncated
  printf '{"eventVersion":"1.08","eventID":"bad-utf8-\xff\xfe","eventSource":"ec2.amazonaws.com","eventName":"RunInstances"}\n'  # 3
  printf '{"eventVersion":"1.08","eventID":"nul\0","eventName":"RunInstances"}\n'   # 4
  echo '{"eventVersion":"1.08","eventID":42,"eventName":["RunInstances"]}'          # 5 wrong types
  python3 -c 'print("[" * 100000 + "]" * 100000)'                 # 6 very deep nesting
  python3 -c 'print("{\"eventVersion\":\"1.08\",\"eventID\":\"big\",\"x\":\"" + "a" * 3000000 + "\"}")'  # 7 3 MB
  echo 'not json at all'                                          # 8
  echo '{"Records": "nope"}'                                      # 9
  echo '{"hello": "world"}'                                       # 10 unknown format
  echo "$GOOD"                                                    # 11
} >"$F"
expect_exit 1 "replay hostile input" -- timeout 60 "$CHIPWATCH" replay --rules rules \
  --geoip tests/data/geoip/test-country.mmdb "$F"
[ "$(grep -c '"rule_id":"CW-HW-001"' "$WORK/out")" -eq 2 ] && pass "both valid records alert" \
  || fail "valid records lost: $(cat "$WORK/out" | head -c 300)"
for line in 2 3 4 5 6 7 8 9 10; do
  grep -q "hostile.jsonl:$line[: ]" "$WORK/err" && pass "line $line reported" || fail "line $line not reported"
done
grep -q "2 events, 2 alerts, 9 undecodable records" "$WORK/err" && pass "summary counts" \
  || fail "summary: $(tail -1 "$WORK/err")"

# A file whose first line was cut short (a writer killed mid-line, a rotated tail): the line is
# reported and the records after it still alert.
{
  echo "$GOOD" | head -c 300; echo
  echo "$GOOD"
  echo "$GOOD"
} >"$WORK/cut.jsonl"
expect_exit 1 "replay a file whose first line is truncated" -- "$CHIPWATCH" replay --rules rules \
  --geoip tests/data/geoip/test-country.mmdb "$WORK/cut.jsonl"
[ "$(grep -c '"rule_id":"CW-HW-001"' "$WORK/out")" -eq 2 ] && pass "the records after it alert" \
  || fail "records after a truncated first line lost: $(tail -1 "$WORK/err")"
grep -q "cut.jsonl:1: .*invalid_json" "$WORK/err" && pass "line 1 reported" \
  || fail "line 1 not reported: $(head -3 "$WORK/err")"

# A compressed input (CloudTrail delivers .json.gz to S3) is named as such, and the other inputs
# are still replayed; exit 2.
gzip -c tests/data/samples/cloudtrail.jsonl >"$WORK/s3.json.gz"
for threads in 1 2; do
  expect_exit 2 "replay a gzip file among others (--threads $threads)" -- "$CHIPWATCH" replay \
    --rules rules --geoip tests/data/geoip/test-country.mmdb --threads "$threads" \
    "$WORK/s3.json.gz" "$WORK/cut.jsonl"
  grep -q "s3.json.gz: the input is gzip-compressed.*zcat FILE | chipwatch replay -" "$WORK/err" \
    && pass "gzip input named, with the way out" || fail "gzip input: $(head -3 "$WORK/err")"
  [ "$(grep -c '"rule_id":"CW-HW-001"' "$WORK/out")" -eq 2 ] && pass "the other input replayed" \
    || fail "the other input was not replayed: $(tail -1 "$WORK/err")"
done
zcat "$WORK/s3.json.gz" >"$WORK/s3.jsonl"
expect_exit 0 "the decompressed file replays" -- "$CHIPWATCH" replay --rules rules "$WORK/s3.jsonl"

# More than a hundred bad records: the first hundred in full, then a count.
for _ in $(seq 1 150); do echo 'garbage'; done >"$WORK/many.jsonl"
echo "$GOOD" >>"$WORK/many.jsonl"
expect_exit 1 "replay 150 bad records" -- "$CHIPWATCH" replay --rules rules "$WORK/many.jsonl"
[ "$(grep -c 'many.jsonl:[0-9]*: cannot decode' "$WORK/err")" -eq 100 ] && pass "100 reported in full" \
  || fail "reported $(grep -c 'cannot decode' "$WORK/err")"
grep -q "150 undecodable records" "$WORK/err" && pass "all 150 counted" || fail "count: $(tail -1 "$WORK/err")"

# The per-record size limit is configurable and named in the error.
expect_exit 1 "replay with a small record limit" -- "$CHIPWATCH" replay --rules rules \
  --max-record-bytes 100 tests/data/samples/cloudtrail.jsonl
grep -q "too_large" "$WORK/err" && pass "too_large reported" || fail "no too_large: $(head -3 "$WORK/err")"
finish
