#!/usr/bin/env python3
"""End-to-end tests of `chipwatch run` against a real Kafka broker (scripts/kafka-local).

Usage: daemon_test.py CHIPWATCH SOURCE_DIR CASE
Cases: end_to_end, poison, kill9, startup_stop, broker_restart, two_daemons, graceful, metrics,
reload, sink_rejected, stateful
Each case creates its own topics and consumer group, so cases can run one after another against
the same broker. Producing and reading topics uses kcat; every wait is bounded.
"""
import json
import re
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import harness
from harness import alerts_in_file, fail, log

CHIPWATCH, SRC, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
PORT = int(os.environ.get("KAFKA_PORT", "19092"))
BROKERS = f"127.0.0.1:{PORT}"
WORK = tempfile.mkdtemp(prefix=f"chipwatch-{CASE}-")
RUN_ID = uuid.uuid4().hex[:8]
FORMAT_TOPICS = {"cloudtrail": "cloudtrail", "gcp_audit": "gcp-audit",
                 "azure_activity": "azure-activity", "k8s_audit": "k8s-audit",
                 "gpu_alloc": "gpu-alloc"}








def topic(name):
    return f"{name}-{RUN_ID}"


def create_topic(name, partitions, *configs):
    env = dict(os.environ, KAFKA_PORT=str(PORT))
    subprocess.run([os.path.join(SRC, "scripts/kafka-local"), "create-topic", name, str(partitions),
                    *configs], check=True, env=env, stdout=subprocess.DEVNULL)


def produce(topic_name, lines, partition=None, offset=0):
    """Produces one message per line, keyed by a running number (from `offset`) so that the
    default partitioner spreads them over every partition (without keys librdkafka sticks to one
    partition per batch), or all to `partition`."""
    args = ["kcat", "-P", "-b", BROKERS, "-t", topic_name, "-z", "lz4", "-K", "\t"]
    if partition is not None:
        args += ["-p", str(partition)]
    data = "".join(f"k{offset + i}\t" + line.rstrip("\n") + "\n"
                   for i, line in enumerate(lines))
    subprocess.run(args, input=data.encode(), check=True)


def produce_messages(topic_name, messages, partition):
    """Produces each string as one message (newlines included), keyed m0, m1, ..."""
    args = ["kcat", "-P", "-b", BROKERS, "-t", topic_name, "-p", str(partition), "-D", "\\x01",
            "-K", "\\x02"]
    data = "".join(f"m{i}\x02{m}\x01" for i, m in enumerate(messages))
    subprocess.run(args, input=data.encode(), check=True)


def consume_all(topic_name, timeout=10.0, fmt="%k\t%s\n"):
    """Reads a topic from the beginning to its current end."""
    out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", topic_name, "-o", "beginning", "-e",
                          "-q", "-f", fmt], capture_output=True, timeout=timeout + 30)
    return out.stdout.decode(errors="replace")


def write_config(name, group, topics, alerts_file, alerts_topic, dead_letter_topic, workers=2,
                 rules=None, metrics_port=None):
    """A daemon config: alerts to `alerts_topic` and to `alerts_file` (unless None), undecodable
    records to `dead_letter_topic` (unless None)."""
    rules = rules or [f"{SRC}/rules"]
    file_sink = f"\n  - {{type: file, path: {alerts_file}}}" if alerts_file else ""
    dead_letter = (f"dead_letter: {{type: kafka, brokers: {BROKERS}, topic: {dead_letter_topic}}}"
                   if dead_letter_topic else "")
    metrics = (f"{{listen: 127.0.0.1:{metrics_port}}}" if metrics_port else "{enabled: false}")
    cfg = f"""
rules: [{", ".join(rules)}]
enrich:
  geoip: {SRC}/tests/data/geoip/test-country.mmdb
  directory: {SRC}/tests/data/directory.csv
sources:
  - type: kafka
    brokers: {BROKERS}
    group: {group}
    topics: [{", ".join("{topic: %s, format: %s}" % (t, f) for t, f in topics)}]
    properties: {{session.timeout.ms: "6000", heartbeat.interval.ms: "500"}}
sinks:
  - {{type: kafka, brokers: {BROKERS}, topic: {alerts_topic}}}{file_sink}
{dead_letter}
metrics: {metrics}
workers: {workers}
shutdown_timeout: 20
"""
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(cfg)
    return path


DAEMONS = []


def _kill_leftovers():
    """A failed case must not leave daemons running (they would hold ports and consume topics)."""
    for d in DAEMONS:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


import atexit  # noqa: E402
atexit.register(_kill_leftovers)


class Daemon:
    def __init__(self, config, name):
        DAEMONS.append(self)
        self.log_path = os.path.join(WORK, name + ".log")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([CHIPWATCH, "run", "--config", config],
                                     stdout=subprocess.DEVNULL, stderr=self.logf)
        log(f"started {name} (pid {self.proc.pid})")

    def stop(self, timeout=40):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(f"daemon did not stop within {timeout}s of SIGTERM; log:\n" + self.tail())
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def tail(self, n=40):
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])

    def alive(self):
        return self.proc.poll() is None





def wait_for(predicate, timeout, what, daemons=()):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        for d in daemons:
            if not d.alive():
                fail(f"daemon exited early while waiting for {what}:\n{d.tail()}")
        time.sleep(0.25)
    details = "\n".join(d.tail() for d in daemons)
    fail(f"timed out after {timeout}s waiting for {what}\n{details}")


def expected_alert_keys():
    """(rule_id, event_id) of every alert the bundled samples (tests/data/samples, which these
    tests produce) raise: the replay golden file's, less those of the other files it replays."""
    keys = set()
    with open(os.path.join(SRC, "tests/data/expected/samples.alerts.jsonl")) as f:
        for line in f:
            a = json.loads(line)
            if a["origin"]["file"].startswith("tests/data/samples/"):
                keys.add((a["rule_id"], a["event_id"]))
    return keys


def gpu_alloc_events(n, seed):
    return harness.gpu_alloc_events(n, seed, RUN_ID)


def setup_topics(partitions=4, formats=("gpu_alloc",)):
    topics = [(topic(FORMAT_TOPICS[f]), f) for f in formats]
    for t, _ in topics:
        create_topic(t, partitions)
    alerts_topic, dlq = topic("alerts"), topic("dead-letter")
    create_topic(alerts_topic, 2)
    create_topic(dlq, 1)
    return topics, alerts_topic, dlq


def case_end_to_end():
    """Every format's samples through Kafka: the expected alerts arrive on the alerts topic and in
    the alerts file, keyed by event id; SIGTERM then stops the daemon with exit 0."""
    formats = list(FORMAT_TOPICS)
    topics, alerts_topic, dlq = setup_topics(4, formats)
    produced = 0
    for t, f in topics:
        with open(os.path.join(SRC, f"tests/data/samples/{f}.jsonl")) as fh:
            lines = fh.readlines()
        produce(t, lines)
        produced += len(lines)
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    group = topic("group")
    cfg = write_config("e2e.yaml", group, topics, alerts_file, alerts_topic, dlq)
    d = Daemon(cfg, "daemon")
    want = expected_alert_keys()
    wait_for(lambda: {(a["rule_id"], a["event_id"]) for a in alerts_in_file(alerts_file)} >= want,
             60, f"{len(want)} expected alerts in the file", [d])
    wait_committed(group, produced, 60, "end to end", [d])
    got = alerts_in_file(alerts_file)
    keys = [(a["rule_id"], a["event_id"]) for a in got]
    if set(keys) != want:
        fail(f"unexpected alerts: {sorted(set(keys) - want)}")
    if len(keys) != len(set(keys)):
        fail("duplicate alerts without any crash")
    for a in got:
        if "topic" not in a["origin"] or a["origin"]["offset"] < 0:
            fail(f"alert origin lacks topic/partition/offset: {a['origin']}")
    rc = d.stop()
    if rc != 0:
        fail(f"exit code {rc} after SIGTERM")
    on_topic = [l.split("\t", 1) for l in consume_all(alerts_topic).splitlines() if l]
    topic_keys = {(json.loads(v)["rule_id"], k) for k, v in on_topic}
    if topic_keys != want:
        fail(f"alerts topic differs: missing {sorted(want - topic_keys)[:5]}, "
             f"extra {sorted(topic_keys - want)[:5]}")
    for k, v in on_topic:
        if json.loads(v)["event_id"] != k:
            fail(f"alert keyed {k!r} carries event {json.loads(v)['event_id']!r}")
    log(f"ok: {len(want)} alerts on the topic and in the file, keyed by event id; clean stop")


def case_poison():
    """An undecodable message goes to the dead-letter topic with its original bytes and headers
    (reason, source topic, partition, offset); the partition moves on."""
    topics, alerts_topic, dlq = setup_topics(1)
    events, alerting = gpu_alloc_events(40, 1)
    poison = '{"schema":"gpu-alloc/v1","event_id":"poison-1","time":"2025-06-01T10:0'
    produce(topics[0][0], events[:20] + [poison] + events[20:], partition=0)
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    cfg = write_config("poison.yaml", topic("group"), topics, alerts_file, alerts_topic, dlq)
    d = Daemon(cfg, "daemon")
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= alerting, 60,
             "alerts after the poison message", [d])
    if d.stop() != 0:
        fail("exit code after SIGTERM")
    dead = consume_all(dlq, fmt="%o\t%h\t%s\n").splitlines()
    if len(dead) != 1:
        fail(f"expected one dead letter, got {len(dead)}: {dead}")
    _, headers, payload = dead[0].split("\t", 2)
    if payload != poison:
        fail(f"dead letter does not carry the original bytes: {payload!r}")
    for needle in ("chipwatch.reason=invalid_json", f"chipwatch.source.topic={topics[0][0]}",
                   "chipwatch.source.partition=0", "chipwatch.source.offset=20"):
        if needle not in headers:
            fail(f"dead-letter header {needle!r} missing in {headers!r}")
    log("ok: poison message dead-lettered with headers; the partition moved on")

    # A message batching JSON lines (as some shippers do): each line is a record of its own, so
    # the bad one costs only itself; the message is dead-lettered once, naming the bad record.
    batch_events, batch_alerting = gpu_alloc_events(40, 12)
    good = [e for e in batch_events if json.loads(e)["event_id"] in batch_alerting][:2]
    batch = good[0] + "\n" + poison + "\n" + good[1] + "\n"
    produce_messages(topics[0][0], [batch], partition=0)
    expected = {json.loads(e)["event_id"] for e in good}
    d = Daemon(cfg, "daemon-2")
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= expected, 60,
             "alerts from both good lines of the batch", [d])
    wait_for(lambda: len(consume_all(dlq, fmt="%o\n").split()) >= 2, 30, "the batch's dead letter",
             [d])
    if d.stop() != 0:
        fail("exit code after SIGTERM")
    dead = consume_all(dlq, fmt="%o\t%h\t%s\x01").split("\x01")
    _, headers, payload = dead[1].split("\t", 2)
    if payload != batch:
        fail(f"the batch's dead letter does not carry its original bytes: {payload!r}")
    for needle in ("chipwatch.record_index=1", "chipwatch.failed_records=1",
                   "chipwatch.reason=invalid_json", "chipwatch.source.offset=41"):
        if needle not in headers:
            fail(f"dead-letter header {needle!r} missing in {headers!r}")
    log("ok: a message of three lines gave two events and one dead letter naming record 1")


def committed_offsets(group):
    """Kafka's own view of the group's committed offsets: {(topic, partition): offset or None}."""
    env = dict(os.environ, KAFKA_PORT=str(PORT))
    out = subprocess.run([os.path.join(SRC, "scripts/kafka-local"), "committed", group],
                         check=True, env=env, capture_output=True, timeout=120).stdout.decode()
    result = {}
    for line in out.splitlines():
        t, p, off = line.split()
        result[(t, int(p))] = None if off == "-" else int(off)
    return result


def wait_committed(group, total, timeout, what, daemons=()):
    """Waits until the group has committed `total` messages over all its partitions: every alert
    those messages caused has then been acknowledged (the daemon commits nothing earlier), so the
    alert files are complete. Polls Kafka's own view; no sleeping for a guessed time."""
    wait_for(lambda: sum(o or 0 for o in committed_offsets(group).values()) >= total, timeout,
             f"{what}: {total} messages committed by {group}", daemons)


def pack_rule_count():
    """How many rules the default pack has, as `chipwatch check` counts them."""
    out = subprocess.run([CHIPWATCH, "check", "--rules", os.path.join(SRC, "rules")],
                         capture_output=True, text=True).stdout
    return int(re.search(r"(\d+) rules", out).group(1))


def held_partitions(daemon):
    """The partitions a daemon holds now, from its log's "assigned T[p]" / "revoked T[p]" lines
    (logged by the rebalance callbacks, in order)."""
    held = set()
    with open(daemon.log_path, errors="replace") as f:
        for verb, tp in re.findall(r"kafka\[\d+\]: (assigned|revoked) (\S+\[\d+\])", f.read()):
            if verb == "assigned":
                held.add(tp)
            else:
                held.discard(tp)
    return held


def wait_ready(port, daemons):
    """Waits until a daemon's /readyz says every source joined its group."""
    def ready():
        try:
            return http_get(port, "/readyz")[0] == 200
        except OSError:
            return False
    wait_for(ready, 60, f"/readyz 200 on port {port}", daemons)


def case_sink_rejected():
    """A sink that refuses an alert for good never costs the alert (issue 10, section 1).
    A: with a dead letter, the refused alerts go there (headers chipwatch.reason=sink_rejected,
       chipwatch.sink, chipwatch.error, source position) and the source is committed to its end.
    B: without one, the daemon stops by itself with exit status 1, naming the sink, the error and
       the source position, and the group's committed offset stays at the refused message.
    C: a dead letter that refuses the alert too: the same as B."""
    events, alerting = gpu_alloc_events(60, 21)
    alerting_offsets = {i for i, e in enumerate(events) if json.loads(e)["event_id"] in alerting}
    first_alerting = min(alerting_offsets)

    # A: rescued by the dead letter.
    src, tiny, dlq = topic("gpu-alloc-a"), topic("alerts-tiny-a"), topic("dead-letter-a")
    create_topic(src, 1)
    create_topic(tiny, 1, "max.message.bytes=300")
    create_topic(dlq, 1)
    produce(src, events, partition=0)
    group = topic("group-a")
    d = Daemon(write_config("a.yaml", group, [(src, "gpu_alloc")], None, tiny, dlq), "daemon-a")

    def dead_letters():
        return [l for l in consume_all(dlq, fmt="%h\t%s\x01").split("\x01") if l.strip()]
    wait_for(lambda: len(dead_letters()) >= len(alerting) * 2, 60,
             f"{len(alerting) * 2} refused alerts in the dead letter (two rules per event)", [d])
    rc = d.stop()
    if rc != 0:
        fail(f"A: exit code {rc} after SIGTERM (the dead letter took every refused alert)\n"
             + d.tail())
    seen = set()
    for dl in dead_letters():
        headers, payload = dl.split("\t", 1)
        alert = json.loads(payload)
        seen.add(alert["event_id"])
        for needle in ("chipwatch.reason=sink_rejected", f"chipwatch.sink=kafka:{tiny}",
                       "chipwatch.error=", f"chipwatch.source.topic={src}",
                       "chipwatch.source.partition=0", "chipwatch.source.offset="):
            if needle not in headers:
                fail(f"A: dead-letter header {needle!r} missing in {headers!r}")
    if seen != alerting:
        fail(f"A: refused alerts missing from the dead letter: {sorted(alerting - seen)[:5]}")
    if consume_all(tiny).strip():
        fail("A: the refusing topic holds alerts")
    offsets = committed_offsets(group)
    if offsets.get((src, 0)) != len(events):
        fail(f"A: committed offsets {offsets}, expected {len(events)} for {src}[0]")
    log(f"ok (A): {len(seen)} refused events' alerts dead-lettered with headers; committed "
        f"{src}[0] at {len(events)} (kafka-consumer-groups)")

    def refused_for_good(case, dead_letter_refuses):
        """Runs a daemon whose alert topic (and dead letter, if any) refuses every alert: it must
        exit 1 by itself, say so, and leave the group committed no further than the refused
        message. Returns (log text, committed offset)."""
        src, tiny = topic(f"gpu-alloc-{case}"), topic(f"alerts-tiny-{case}")
        dead = topic(f"dead-letter-tiny-{case}") if dead_letter_refuses else None
        create_topic(src, 1)
        for t in filter(None, (tiny, dead)):
            create_topic(t, 1, "max.message.bytes=300")
        produce(src, events, partition=0)
        group = topic(f"group-{case}")
        d = Daemon(write_config(f"{case}.yaml", group, [(src, "gpu_alloc")], None, tiny, dead),
                   f"daemon-{case}")
        try:
            rc = d.proc.wait(60)
        except subprocess.TimeoutExpired:
            fail(f"{case}: the daemon did not stop by itself within 60 s of a refused alert\n"
                 + d.tail())
        if rc != 1:
            fail(f"{case}: exit status {rc}, expected 1\n" + d.tail())
        text = open(d.log_path, errors="replace").read()
        # The first refusal reported names the sink and the message; which alerting message that
        # is depends on the order of the broker's replies (a dead letter gets several at once).
        named = re.findall(rf"sink kafka:{re.escape(dead or tiny)} refused a record of "
                           rf"{re.escape(src)}\[0\]@(\d+)", text)
        if not named or int(named[0]) not in alerting_offsets:
            fail(f"{case}: the log does not name kafka:{dead or tiny} and an alerting message of "
                 f"{src}[0]:\n" + d.tail())
        committed = committed_offsets(group).get((src, 0))
        if (committed or 0) > first_alerting:
            fail(f"{case}: committed {committed}, past the refused message at {first_alerting}")
        return text, committed

    # B: nowhere to put it: exit 1, nothing committed past the refused message.
    _, committed = refused_for_good("b", dead_letter_refuses=False)
    log(f"ok (B): exit 1, the log names the sink and the source position; committed offset "
        f"{committed} (not past {first_alerting})")

    # C: the dead letter refuses it too.
    text, committed = refused_for_good("c", dead_letter_refuses=True)
    if "the dead letter cannot take it either" not in text:
        fail("C: the log does not say the dead letter refused it too")
    log(f"ok (C): the dead letter refused too: exit 1; committed {committed}")


def case_kill9():
    """kill -9 mid-stream, restart: every expected alert is raised (duplicates allowed). The
    events are produced in batches while the daemons run, so the kill lands while messages are
    still arriving and in flight, however fast the daemon is."""
    topics, alerts_topic, dlq = setup_topics(4)
    events, alerting = gpu_alloc_events(30000, 2)
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    group = topic("group")
    cfg = write_config("kill9.yaml", group, topics, alerts_file, alerts_topic, dlq)
    batches = [events[i:i + 1000] for i in range(0, len(events), 1000)]
    produced = []

    def producer():
        for b in batches:
            produce(topics[0][0], b, offset=len(produced) * 1000)
            produced.append(len(b))
            time.sleep(0.2)  # pacing: batches keep arriving while the daemon is killed

    d = Daemon(cfg, "daemon-1")
    feeder = threading.Thread(target=producer)
    feeder.start()
    wait_for(lambda: len(alerts_in_file(alerts_file)) >= len(alerting) // 4, 60,
             "a quarter of the alerts", [d])
    d.kill9()
    before = {a["event_id"] for a in alerts_in_file(alerts_file)}
    log(f"killed -9 after {len(before)} of {len(alerting)} alerting events, "
        f"{len(produced)} of {len(batches)} batches produced")
    d2 = Daemon(cfg, "daemon-2")
    feeder.join()
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= alerting, 120,
             "every alert after the restart", [d2])
    if d2.stop() != 0:
        fail("exit code after SIGTERM")
    got = alerts_in_file(alerts_file)
    dup = len(got) - len({(a["rule_id"], a["event_id"]) for a in got})
    log(f"ok: all {len(alerting)} alerting events raised after kill -9 ({dup} duplicates)")


def case_startup_stop():
    """SIGTERM while the daemon is still compiling its rules (the default pack plus 3,000
    generated ones, about a second of work): a clean stop with exit 0 and nothing consumed; a
    restart in the same group then processes everything."""
    topics, alerts_topic, dlq = setup_topics(2)
    events, alerting = gpu_alloc_events(2000, 9)
    produce(topics[0][0], events)
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    big_pack = os.path.join(WORK, "extra-rules.yaml")
    subprocess.run([sys.executable, os.path.join(SRC, "bench/gen_rules.py"), "--count", "3000",
                    "--out", big_pack], check=True)
    group = topic("group")
    slow = write_config("startup.yaml", group, topics, alerts_file, alerts_topic, dlq,
                        rules=[f"{SRC}/rules", big_pack])
    d = Daemon(slow, "daemon-1")
    # "starting with" is logged after the config is read and before the rules are compiled.
    deadline = time.time() + 30
    while "starting with" not in d.tail() and time.time() < deadline and d.alive():
        time.sleep(0.01)
    rc = d.stop()
    log_text = open(d.log_path, errors="replace").read()
    if rc != 0:
        fail(f"exit code {rc} after SIGTERM during start-up; log:\n{log_text}")
    for needle in ("SIGTERM received", "stopped during start-up"):
        if needle not in log_text:
            fail(f"{needle!r} not logged:\n{log_text}")
    if alerts_in_file(alerts_file):
        fail("alerts raised by a daemon stopped during start-up")
    d2 = Daemon(write_config("restart.yaml", group, topics, alerts_file, alerts_topic, dlq),
                "daemon-2")
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= alerting, 60,
             "every alert after the restart", [d2])
    if d2.stop() != 0:
        fail("exit code after SIGTERM")
    log(f"ok: SIGTERM during start-up exited 0; the restart raised all {len(alerting)}")


def case_broker_restart():
    """The broker goes away mid-stream and comes back: the daemon keeps running and every alert is
    raised."""
    topics, alerts_topic, dlq = setup_topics(2)
    events, alerting = gpu_alloc_events(4000, 3)
    produce(topics[0][0], events[:2000])
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    cfg = write_config("restart.yaml", topic("group"), topics, alerts_file, alerts_topic, dlq)
    d = Daemon(cfg, "daemon")
    first = {e for e in alerting if int(e.rsplit("-", 1)[1]) < 2000}
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= first, 60,
             "alerts of the first half", [d])
    env = dict(os.environ, KAFKA_PORT=str(PORT))
    kafka_local = os.path.join(SRC, "scripts/kafka-local")
    subprocess.run([kafka_local, "stop"], check=True, env=env)
    log("broker stopped")
    produce_later = events[2000:]
    time.sleep(3)  # the outage itself: the daemon must ride out 3 s without a broker (not a wait)
    if not d.alive():
        fail("daemon exited while the broker was down:\n" + d.tail())
    subprocess.run([kafka_local, "start"], check=True, env=dict(env, KAFKA_KEEP_DATA="1"))
    log("broker back")
    produce(topics[0][0], produce_later)
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= alerting, 120,
             "every alert after the broker restart", [d])
    if d.stop() != 0:
        fail("exit code after SIGTERM")
    log("ok: broker restart survived, every alert raised")


def case_two_daemons():
    """Two daemons in one group split the partitions and together raise every alert once."""
    topics, alerts_topic, dlq = setup_topics(4)
    events, alerting = gpu_alloc_events(8000, 4)
    group = topic("group")
    files = [os.path.join(WORK, f"alerts-{i}.jsonl") for i in (1, 2)]
    ports = [19467, 19468]
    cfgs = [write_config(f"d{i}.yaml", group, topics, files[i - 1], alerts_topic, dlq, workers=1,
                         metrics_port=ports[i - 1])
            for i in (1, 2)]
    d1 = Daemon(cfgs[0], "daemon-1")
    d2 = Daemon(cfgs[1], "daemon-2")
    # Both joined and the group settled before the data arrives: each holds some of the four
    # partitions, none held twice (a rebalance still moving partitions would make messages be
    # processed by one daemon and again by the other).
    for port in ports:
        wait_ready(port, [d1, d2])

    def settled():
        held = [held_partitions(d) for d in (d1, d2)]
        return all(held) and not (held[0] & held[1]) and len(held[0] | held[1]) == 4
    wait_for(settled, 60, "both daemons holding disjoint shares of the 4 partitions", [d1, d2])
    produce(topics[0][0], events)
    all_ids = lambda: [a["event_id"] for f in files for a in alerts_in_file(f)]
    wait_for(lambda: set(all_ids()) >= alerting, 90, "every alert from the two daemons", [d1, d2])
    wait_committed(group, len(events), 60, "two daemons", [d1, d2])
    ids = all_ids()
    per = [len(alerts_in_file(f)) for f in files]
    for d in (d1, d2):
        if d.stop() != 0:
            fail("exit code after SIGTERM")
    if min(per) == 0:
        fail(f"one daemon did no work: {per}")
    if len(ids) != len({(a['rule_id'], a['event_id']) for f in files for a in alerts_in_file(f)}):
        fail("an alert was raised twice by the group")
    log(f"ok: two daemons shared the work {per}, every alert once")


def case_graceful():
    """SIGTERM commits exactly what was processed: a second run in the same group raises nothing
    new, and new messages are processed exactly from where the first run stopped."""
    topics, alerts_topic, dlq = setup_topics(2)
    events, alerting = gpu_alloc_events(3000, 5)
    produce(topics[0][0], events[:1500])
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    group = topic("group")
    cfg = write_config("graceful.yaml", group, topics, alerts_file, alerts_topic, dlq)
    first = {e for e in alerting if int(e.rsplit("-", 1)[1]) < 1500}
    d = Daemon(cfg, "daemon-1")
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= first, 60,
             "first batch", [d])
    wait_committed(group, 1500, 60, "first batch", [d])
    if d.stop() != 0:
        fail("exit code after SIGTERM")
    n_first = len(alerts_in_file(alerts_file))
    produce(topics[0][0], events[1500:])
    d2 = Daemon(cfg, "daemon-2")
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= alerting, 60,
             "second batch", [d2])
    wait_committed(group, len(events), 60, "second batch", [d2])
    if d2.stop() != 0:
        fail("exit code after SIGTERM")
    got = alerts_in_file(alerts_file)
    keys = [(a["rule_id"], a["event_id"]) for a in got]
    if len(keys) != len(set(keys)):
        fail(f"{len(keys) - len(set(keys))} alerts raised twice across a graceful restart")
    log(f"ok: graceful restart: {n_first} then {len(got) - n_first} alerts, none twice")


def http_get(port, path):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read().decode()
    return resp.status, resp.getheader("Content-Type", ""), body


def case_metrics():
    """/metrics, /healthz and /readyz of a running daemon; the exposition passes promtool and holds
    every metric the shipped dashboard and alerting rules query."""
    topics, alerts_topic, dlq = setup_topics(2, list(FORMAT_TOPICS))
    produced = 0
    for t, f in topics:
        with open(os.path.join(SRC, f"tests/data/samples/{f}.jsonl")) as fh:
            lines = fh.readlines() + ['{"not": "a known format"}']
        produce(t, lines)
        produced += len(lines)
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    port = 19464
    group = topic("group")
    cfg = write_config("metrics.yaml", group, topics, alerts_file, alerts_topic, dlq,
                       metrics_port=port)
    d = Daemon(cfg, "daemon")
    want = expected_alert_keys()
    wait_for(lambda: {(a["rule_id"], a["event_id"]) for a in alerts_in_file(alerts_file)} >= want,
             60, "the sample alerts", [d])
    wait_for(lambda: http_get(port, "/readyz")[0] == 200, 30, "/readyz 200", [d])
    status, ctype, _ = http_get(port, "/healthz")
    if status != 200:
        fail(f"/healthz {status}")
    # Every message processed and acknowledged, and the lag gauges (refreshed every 2 s) exported.
    wait_committed(group, produced, 60, "metrics", [d])
    wait_for(lambda: "chipwatch_consumer_lag{" in http_get(port, "/metrics")[2], 30,
             "the consumer lag gauges", [d])
    status, ctype, body = http_get(port, "/metrics")
    if status != 200 or not ctype.startswith("text/plain"):
        fail(f"/metrics {status} {ctype}")
    path = os.path.join(WORK, "metrics.txt")
    with open(path, "w") as f:
        f.write(body)
    for needle in ['chipwatch_alerts_total{rule_id="CW-HW-001",severity="critical"}',
                   'chipwatch_events_total{format="cloudtrail",source="kafka[0]"} 18',
                   'chipwatch_decode_errors_total{format="cloudtrail",reason="missing_field"} 1',
                   'chipwatch_sink_errors_total{sink="kafka:', 'chipwatch_rules_reload_total{result="failure"} 0',
                   "chipwatch_dead_letter_total 5", f"chipwatch_rules_loaded {pack_rule_count()}",
                   "chipwatch_event_processing_seconds_count", "chipwatch_consumer_lag{",
                   "chipwatch_ready 1", 'chipwatch_build_info{version="']:
        if needle not in body:
            fail(f"/metrics lacks {needle!r}")
    # Series whose labels are known at start-up exist from the start (at 0 unless counted), for
    # every format, also those no topic here reads.
    for fmt in list(FORMAT_TOPICS) + ["oci_audit"]:
        for reason in ("missing_id", "missing_time", "invalid_time"):
            if f'chipwatch_decode_warnings_total{{format="{fmt}",reason="{reason}"}}' not in body:
                fail(f"/metrics lacks decode warnings for {fmt}/{reason}")
        for reason in ("invalid_json", "too_deep", "unknown_format", "wrong_type"):
            if f'chipwatch_decode_errors_total{{format="{fmt}",reason="{reason}"}}' not in body:
                fail(f"/metrics lacks decode errors for {fmt}/{reason}")
    import glob
    import yaml
    rule_ids = set()
    for rule_file in glob.glob(f"{SRC}/rules/**/*.yaml", recursive=True):
        with open(rule_file) as fh:
            doc = yaml.safe_load(fh) or {}
        rule_ids |= {r["id"] for r in doc.get("rules", []) if isinstance(r, dict) and "id" in r}
    if len(rule_ids) != pack_rule_count():
        fail(f"expected the {pack_rule_count()} rules of the default pack, found {sorted(rule_ids)}")
    for rule_id in rule_ids:
        if f'chipwatch_alerts_total{{rule_id="{rule_id}",' not in body:
            fail(f"/metrics lacks chipwatch_alerts_total for rule {rule_id}")
    alert_series = body.count("\nchipwatch_alerts_total{")
    if alert_series < len(rule_ids):
        fail(f"only {alert_series} chipwatch_alerts_total series for {len(rule_ids)} loaded rules")
    for sink in (f"kafka:{alerts_topic}", f"file:{alerts_file}", f"kafka:{dlq}"):
        if f'chipwatch_sink_errors_total{{sink="{sink}"}} 0' not in body:
            fail(f"/metrics lacks chipwatch_sink_errors_total 0 for {sink}")
    r = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True)
    if r.returncode != 0:
        fail("promtool check metrics: " + (r.stdout + r.stderr).decode())
    checker = os.path.join(SRC, "tests/packaging/dashboard_metrics_test.py")
    if os.path.exists(checker):
        r = subprocess.run([sys.executable, checker, SRC, path], capture_output=True)
        if r.returncode != 0:
            fail("dashboard/alert-rule metrics check: " + (r.stdout + r.stderr).decode())
    if d.stop() != 0:
        fail("exit code after SIGTERM")
    log("ok: metrics, health and readiness served; promtool and dashboard checks pass")


def case_reload():
    """SIGHUP swaps in new rules without losing or double-processing events; a broken rule file is
    rejected (the old policy keeps running) and counted as a failed reload."""
    import shutil
    extra_dir = os.path.join(WORK, "rules.d")
    os.makedirs(extra_dir)
    topics, alerts_topic, dlq = setup_topics(2)
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    port = 19466
    cfg = write_config("reload.yaml", topic("group"), topics, alerts_file, alerts_topic, dlq,
                       rules=[f"{SRC}/rules", extra_dir], metrics_port=port)
    d = Daemon(cfg, "daemon")
    first, alerting1 = gpu_alloc_events(2000, 6)
    produce(topics[0][0], first)
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= alerting1, 60,
             "alerts before the reload", [d])
    # An operator rule that flags every T4 allocation (harmless ones, to make the swap visible).
    with open(os.path.join(extra_dir, "t4.yaml"), "w") as f:
        f.write("""rules:
  - id: OPS-T4-1
    title: T4 allocation (reload test)
    severity: low
    reason: "{accelerator.family} for {tenant}"
    condition:
      all:
        - in: {field: action, items: [allocate]}
        - equals: {field: accelerator.family, value: T4}
""")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: 'chipwatch_rules_reload_total{result="success"} 1' in http_get(port, "/metrics")[2],
             30, "a successful reload", [d])
    second, alerting2 = gpu_alloc_events(2000, 7)
    produce(topics[0][0], second)
    second_ids = {json.loads(e)["event_id"] for e in second}
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)
                      if a["rule_id"] == "OPS-T4-1"} >= second_ids - alerting2, 60,
             "OPS-T4-1 alerts for every harmless event after the reload", [d])
    first_ids = {json.loads(e)["event_id"] for e in first}
    if any(a["rule_id"] == "OPS-T4-1" and a["event_id"] in first_ids
           for a in alerts_in_file(alerts_file)):
        fail("events consumed before the reload were evaluated again with the new rules")
    # A broken rule file: the reload fails, the daemon keeps the previous policy.
    with open(os.path.join(extra_dir, "broken.yaml"), "w") as f:
        f.write("rules:\n  - id: BROKEN\n    condition: {equals: {field: nope, value: 1}}\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: 'chipwatch_rules_reload_total{result="failure"} 1' in http_get(port, "/metrics")[2],
             30, "a failed reload", [d])
    if "broken.yaml:3:" not in d.tail(200):
        fail("the failed reload does not name broken.yaml:3:col in the log:\n" + d.tail())
    third, alerting3 = gpu_alloc_events(500, 8)
    produce(topics[0][0], third)
    third_ids = {json.loads(e)["event_id"] for e in third}
    wait_for(lambda: {a["event_id"] for a in alerts_in_file(alerts_file)} >= third_ids, 60,
             "the previous policy (with OPS-T4-1) still in force", [d])
    if d.stop() != 0:
        fail("exit code after SIGTERM")
    got = alerts_in_file(alerts_file)
    keys = [(a["rule_id"], a["event_id"]) for a in got]
    if len(keys) != len(set(keys)):
        fail("an alert was raised twice across reloads")
    log("ok: reload applied without loss or double processing; a bad reload kept the old policy")


STATEFUL_RULES = """rules:
  - id: ST-ALLOC
    title: allocation (stateful test)
    severity: medium
    reason: "{tenant} allocated on {node}"
    condition: {equals: {field: action, value: allocate}}
    suppress: {by: [tenant], for: 10m}
  - id: ST-REL
    title: release (feeds CORR-T only)
    severity: info
    alert: false
    condition: {equals: {field: action, value: release}}
correlations:
  - id: CORR-V
    title: one address allocates for several tenants
    severity: high
    type: value_count
    rules: [ST-ALLOC]
    group_by: [source.ip]
    field: tenant
    timespan: 1h
    condition: {gte: 3}
    suppress: {for: 30m}
    reason: "{group.source.ip} allocated for {count} tenants"
  - id: CORR-T
    title: allocation and release on one node
    severity: low
    type: temporal
    rules: [ST-ALLOC, ST-REL]
    group_by: [node]
    timespan: 15m
"""


def stateful_events(n, seed):
    """n gpu_alloc records 20 s apart (a few out of order), over few tenants, addresses and nodes:
    repeats a suppression silences, addresses that allocate for several tenants, allocations and
    releases on one node."""
    rnd = random.Random(seed)
    base = 1748772000  # 2025-06-01T10:00:00Z
    events = []
    for i in range(n):
        t = base + 20 * i - (rnd.randrange(600) if rnd.random() < 0.05 else 0)
        rec = {"schema": "gpu-alloc/v1", "event_id": f"{RUN_ID}-st-{i:05d}",
               "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
               "action": "allocate" if rnd.random() < 0.7 else "release", "cluster": "c1",
               "node": f"n{rnd.randrange(6)}", "tenant": f"t{rnd.randrange(5)}", "user": "u",
               "gpu_model": "Tesla T4", "gpu_count": 1, "job_id": f"j{i}",
               "region": "us-east-1", "src_ip": f"203.0.113.{rnd.randrange(4)}"}
        events.append(json.dumps(rec, separators=(",", ":")))
    return events


def stateful_key(a):
    return (a["kind"], a["rule_id"], a["event_id"], json.dumps(a.get("group"), sort_keys=True),
            a.get("count"))


def case_stateful():
    """Suppression and correlations in the daemon: a stream into one partition raises, through
    the partition's stateful lane, the correlation and summary alerts (and event alerts) that
    `chipwatch replay` of the same records raises; the idle partition's windows are flushed after
    state.idle_flush, and the metrics count them."""
    rules_dir = os.path.join(WORK, "stateful-rules")
    os.makedirs(rules_dir)
    with open(os.path.join(rules_dir, "stateful.yaml"), "w") as f:
        f.write(STATEFUL_RULES)
    topics, alerts_topic, dlq = setup_topics(2)
    events = stateful_events(1500, 11)
    produce(topics[0][0], events, partition=0)
    records = os.path.join(WORK, "records.jsonl")
    with open(records, "w") as f:
        f.write("\n".join(events) + "\n")
    replayed = subprocess.run(
        [CHIPWATCH, "replay", "--quiet", "--rules", rules_dir, "--format", "gpu_alloc",
         "--geoip", f"{SRC}/tests/data/geoip/test-country.mmdb",
         "--directory", f"{SRC}/tests/data/directory.csv", records],
        capture_output=True, check=True).stdout.decode()
    want = sorted(stateful_key(json.loads(l)) for l in replayed.splitlines() if l)
    kinds = {k: sum(1 for w in want if w[0] == k) for k in ("event", "correlation", "summary")}
    if min(kinds.values()) < 5:
        fail(f"the stream does not exercise every kind of alert: {kinds}")
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    port = 19469
    group = topic("group")
    cfg = write_config("stateful.yaml", group, topics, alerts_file, alerts_topic, dlq,
                       rules=[rules_dir], metrics_port=port)
    with open(cfg, "a") as f:
        f.write("state: {idle_flush: 3s}\n")
    d = Daemon(cfg, "daemon")
    wait_committed(group, len(events), 60, "the stateful stream", [d])
    # The summaries of the windows still open come after state.idle_flush without messages.
    wait_for(lambda: len(alerts_in_file(alerts_file)) >= len(want), 30,
             f"{len(want)} alerts, the idle flush's summaries included", [d])
    got = sorted(stateful_key(a) for a in alerts_in_file(alerts_file))
    if got != want:
        missing = [k for k in want if k not in got][:5]
        extra = [k for k in got if k not in want][:5]
        fail(f"the daemon's alerts differ from replay's: missing {missing}, extra {extra}")
    metrics = http_get(port, "/metrics")[2]
    for rule_id, kind in (("CORR-V", "correlation"), ("CORR-T", "correlation")):
        n = sum(1 for w in want if w[0] == kind and w[1] == rule_id)
        line = f'chipwatch_correlation_alerts_total{{rule_id="{rule_id}"}} {n}'
        if line not in metrics:
            fail(f"metrics lack {line!r}")
    if 'chipwatch_suppressed_total{rule_id="ST-ALLOC"}' not in metrics:
        fail("metrics lack chipwatch_suppressed_total for ST-ALLOC")
    if "stateful detections: 2 correlations, 1 suppressed rule" not in d.tail(400):
        fail("the start-up log does not describe the stateful policy:\n" + d.tail())
    if d.stop() != 0:
        fail("exit code after SIGTERM")
    if sorted(stateful_key(a) for a in alerts_in_file(alerts_file)) != want:
        fail("the shutdown added or lost alerts after the idle flush")
    log(f"ok: {kinds} alerts as replay raises them, summaries flushed when idle")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
if CASE not in CASES:
    fail(f"unknown case {CASE}; known: {', '.join(CASES)}")
t0 = time.time()
CASES[CASE]()
log(f"{CASE} passed in {time.time() - t0:.1f}s")
