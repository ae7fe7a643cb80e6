#!/usr/bin/env python3
"""`chipwatch run` against a SASL_SSL-only broker (KAFKA_SECURITY=sasl_ssl scripts/kafka-local).

Usage: secure_test.py CHIPWATCH SOURCE_DIR CASE
Cases:
  sasl_ssl        plaintext clients are refused; the daemon consumes, alerts to Kafka and to a file,
                  and dead-letters over SASL_SSL (SCRAM-SHA-512, the broker verified by its CA);
                  `check --config` accepts the config; the password never appears in the log
  wrong_password  the daemon fails loudly: an authentication error in the log, /readyz never 200,
                  exit 1 within a bounded time, the password nowhere in its output
  unknown_ca      the same for a CA that did not sign the broker's certificate (a TLS error)
  mutual_tls      protocol ssl with a client certificate on the broker's mutual-TLS listener
                  (KAFKA_PORT+3): alerts over it; an untrusted client certificate fails loudly
  broker_restart  the broker stops and comes back (KAFKA_KEEP_DATA=1): no false "fatal" TLS or
                  authentication error, every alert raised
The broker's client settings come from `scripts/kafka-local client-config`. Every wait is bounded.
"""
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid

import harness
from harness import alerts_in_file, fail, log

CHIPWATCH, SRC, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
PORT = int(os.environ.get("KAFKA_PORT", "19094"))
BROKERS = f"127.0.0.1:{PORT}"
WORK = tempfile.mkdtemp(prefix=f"chipwatch-secure-{CASE}-")
RUN_ID = uuid.uuid4().hex[:8]
KAFKA_LOCAL = os.path.join(SRC, "scripts/kafka-local")
# How long a daemon that cannot authenticate may take to exit (the "bounded time").
FAIL_WITHIN = 30








def kafka_local(*args):
    env = dict(os.environ, KAFKA_PORT=str(PORT))
    return subprocess.run([KAFKA_LOCAL, *args], check=True, env=env, capture_output=True,
                          text=True).stdout


def client_config():
    """The broker's client properties, and a copy on disk for kcat -F."""
    text = kafka_local("client-config")
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    for key in ("security.protocol", "ssl.ca.location", "sasl.mechanisms", "sasl.username",
                "sasl.password"):
        if key not in props:
            fail(f"client-config lacks {key}: {sorted(props)}")
    if props["security.protocol"] != "sasl_ssl":
        fail(f"the broker on {BROKERS} is not secured: {props['security.protocol']} "
             "(start it with KAFKA_SECURITY=sasl_ssl)")
    path = os.path.join(WORK, "client.properties")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return props, path


PROPS, PROPS_FILE = client_config()
PASSWORD = PROPS["sasl.password"]


def kcat(args, **kw):
    return subprocess.run(["kcat", "-F", PROPS_FILE, "-b", BROKERS, *args], **kw)


def topic(name):
    return f"{name}-{RUN_ID}"


def produce(topic_name, lines):
    data = "".join(f"k{i}\t{line}\n" for i, line in enumerate(lines))
    kcat(["-P", "-t", topic_name, "-K", "\t"], input=data.encode(), check=True,
         capture_output=True)


def consume_all(topic_name, fmt):
    out = kcat(["-C", "-t", topic_name, "-o", "beginning", "-e", "-q", "-f", fmt],
               capture_output=True, timeout=40)
    return out.stdout.decode(errors="replace")


def write_secret(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return path


def security_block(password_file, ca_file, indent):
    pad = " " * indent
    return (f"{pad}security:\n"
            f"{pad}  protocol: sasl_ssl\n"
            f"{pad}  ca_file: {ca_file}\n"
            f"{pad}  sasl:\n"
            f"{pad}    mechanism: SCRAM-SHA-512\n"
            f"{pad}    username: {PROPS['sasl.username']}\n"
            f"{pad}    password_file: {password_file}\n")


def write_config(name, in_topic, alerts_topic, dlq_topic, alerts_file, password_file, ca_file,
                 metrics_port):
    sec4, sec2 = (security_block(password_file, ca_file, n) for n in (4, 2))
    cfg = f"""rules: [{SRC}/rules]
enrich:
  geoip: {SRC}/tests/data/geoip/test-country.mmdb
  directory: {SRC}/tests/data/directory.csv
sources:
  - type: kafka
    brokers: {BROKERS}
    group: {topic("group")}
    topics: [{{topic: {in_topic}, format: gpu_alloc}}]
    properties: {{session.timeout.ms: "6000", heartbeat.interval.ms: "500"}}
{sec4}sinks:
  - type: kafka
    brokers: {BROKERS}
    topic: {alerts_topic}
{sec4}  - {{type: file, path: {alerts_file}}}
dead_letter:
  type: kafka
  brokers: {BROKERS}
  topic: {dlq_topic}
{sec2}metrics: {{listen: 127.0.0.1:{metrics_port}}}
workers: 2
shutdown_timeout: 10
"""
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(cfg)
    return path


class Daemon:
    def __init__(self, config, name):
        self.log_path = os.path.join(WORK, name + ".log")
        self.logf = open(self.log_path, "ab")
        # Debug level: the config summary is logged too, and must not hold the password either.
        self.proc = subprocess.Popen([CHIPWATCH, "run", "--config", config, "--log-level", "debug"],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        self.started = time.time()
        log(f"started {name} (pid {self.proc.pid})")

    def stop(self, timeout=40):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(f"daemon did not stop within {timeout}s of SIGTERM; log:\n" + self.text())

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None


DAEMONS = []


def _kill_leftovers():
    for d in DAEMONS:
        if d.alive():
            d.proc.kill()
            d.proc.wait()


import atexit  # noqa: E402
atexit.register(_kill_leftovers)


def http_status(port, path):
    import http.client
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None





def gpu_alloc_events(n):
    return harness.gpu_alloc_events(n, 42, RUN_ID)


def expect_no_password(where, text):
    if PASSWORD in text:
        fail(f"the SASL password appears in {where}")


def case_sasl_ssl():
    # Plaintext clients are refused on the secured listener.
    plain = subprocess.run(["kcat", "-b", BROKERS, "-L", "-m", "3"], capture_output=True,
                           timeout=30)
    if plain.returncode == 0:
        fail("a plaintext client got metadata from the SASL_SSL listener")
    in_topic, alerts_topic, dlq = topic("gpu-alloc"), topic("alerts"), topic("dead-letter")
    for name, partitions in ((in_topic, 2), (alerts_topic, 1), (dlq, 1)):
        kafka_local("create-topic", name, str(partitions))
    events, alerting = gpu_alloc_events(400)
    poison = '{"schema":"gpu-alloc/v1","event_id":"poison-1","time":"2025-06-01T10:0'
    produce(in_topic, events[:200] + [poison] + events[200:])
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    password_file = write_secret("kafka.password", PASSWORD + "\n")
    port = 19470
    cfg = write_config("secure.yaml", in_topic, alerts_topic, dlq, alerts_file, password_file,
                       PROPS["ssl.ca.location"], port)
    check = subprocess.run([CHIPWATCH, "check", "--config", cfg], capture_output=True, text=True)
    # The one warning allowed is the default pack's: its suppression and correlations keep their
    # state in memory (this config sets no state.path).
    warnings = [l for l in (check.stdout + check.stderr).splitlines() if ": warning: " in l]
    if (check.returncode != 0 or f"0 errors, {len(warnings)} warnings" not in check.stdout
            or any("[state-in-memory]" not in w for w in warnings)):
        fail(f"check --config: exit {check.returncode}:\n{check.stdout}{check.stderr}")
    expect_no_password("check's output", check.stdout + check.stderr)

    d = Daemon(cfg, "daemon")
    DAEMONS.append(d)
    deadline = time.time() + 90
    while {a["event_id"] for a in alerts_in_file(alerts_file)} < alerting:
        if not d.alive():
            fail("daemon exited:\n" + d.text()[-4000:])
        if time.time() > deadline:
            fail("timed out waiting for the alerts\n" + d.text()[-4000:])
        time.sleep(0.25)
    deadline = time.time() + 30
    while http_status(port, "/readyz") != 200:
        if time.time() > deadline:
            fail("/readyz never 200 on the secured broker")
        time.sleep(0.25)
    # The dead letter and the alerts on their topics, read back over SASL_SSL.
    deadline = time.time() + 30
    while True:
        dead = [l for l in consume_all(dlq, "%o\t%h\t%s\x01").split("\x01") if l]
        on_topic = [l.split("\t", 1) for l in consume_all(alerts_topic, "%k\t%s\n").splitlines()
                    if l]
        if len(dead) >= 1 and {k for k, _ in on_topic} >= alerting:
            break
        if time.time() > deadline:
            fail(f"dead letters {len(dead)}, alerts on the topic {len(on_topic)} of "
                 f"{len(alerting)}")
        time.sleep(0.5)
    rc = d.stop()
    if rc != 0:
        fail(f"exit code {rc} after SIGTERM\n" + d.text()[-4000:])
    if len(dead) != 1:
        fail(f"expected one dead letter, got {len(dead)}")
    _, headers, payload = dead[0].split("\t", 2)
    if payload != poison or "chipwatch.reason=invalid_json" not in headers \
            or f"chipwatch.source.topic={in_topic}" not in headers:
        fail(f"dead letter: headers {headers!r}, payload {payload!r}")
    for k, v in on_topic:
        if json.loads(v)["event_id"] != k:
            fail(f"alert keyed {k!r} carries event {json.loads(v)['event_id']!r}")
    text = d.text()
    expect_no_password("the daemon's log", text)
    if "sasl.password=<redacted>" not in text:
        fail("the config summary does not show the redacted password")
    log(f"ok: {len(alerting)} alerts on the topic and in the file and one dead letter over "
        f"SASL_SSL; plaintext refused; the password never logged")


def expect_loud_failure(cfg, port, name, needles):
    """The daemon exits 1 within FAIL_WITHIN seconds, /readyz never 200, `needles` (any) in its
    log, the password nowhere."""
    d = Daemon(cfg, name)
    DAEMONS.append(d)
    ready_seen = False
    while d.alive() and time.time() - d.started < FAIL_WITHIN:
        if http_status(port, "/readyz") == 200:
            ready_seen = True
        time.sleep(0.2)
    if d.alive():
        d.proc.kill()
        d.proc.wait()
        fail(f"still running {FAIL_WITHIN}s after start instead of failing; log:\n" +
             d.text()[-4000:])
    took = time.time() - d.started
    rc = d.proc.returncode
    text = d.text()
    if ready_seen:
        fail("/readyz answered 200")
    if rc != 1:
        fail(f"exit code {rc}, expected 1; log:\n{text[-4000:]}")
    lower = text.lower()
    if not any(n.lower() in lower for n in needles):
        fail(f"none of {needles} in the log:\n{text[-4000:]}")
    expect_no_password("the daemon's log", text)
    critical = [l for l in text.splitlines() if "critical" in l.lower()]
    log(f"ok: exit {rc} after {took:.1f}s; first critical line: "
        f"{critical[0] if critical else '(none)'}")


def case_wrong_password():
    password_file = write_secret("wrong.password", "not-" + PASSWORD + "\n")
    cfg = write_config("wrong-password.yaml", topic("gpu-alloc"), topic("alerts"),
                       topic("dead-letter"), os.path.join(WORK, "alerts.jsonl"), password_file,
                       PROPS["ssl.ca.location"], 19471)
    expect_loud_failure(cfg, 19471, "daemon", ["authentication error", "invalid credentials"])
    text = open(os.path.join(WORK, "daemon.log"), errors="replace").read()
    if "not-" + PASSWORD in text:
        fail("the wrong password appears in the log")


def case_unknown_ca():
    ca_key, ca_pem = os.path.join(WORK, "other-ca.key"), os.path.join(WORK, "other-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
                    "-out", ca_pem, "-days", "2", "-subj", "/CN=not the broker's CA"],
                   check=True, capture_output=True)
    password_file = write_secret("kafka.password", PASSWORD + "\n")
    cfg = write_config("unknown-ca.yaml", topic("gpu-alloc"), topic("alerts"),
                       topic("dead-letter"), os.path.join(WORK, "alerts.jsonl"), password_file,
                       ca_pem, 19472)
    expect_loud_failure(cfg, 19472, "daemon", ["TLS error", "certificate verify failed"])


def case_mutual_tls():
    tls_dir = os.path.dirname(PROPS["ssl.ca.location"])
    mtls = f"127.0.0.1:{PORT + 3}"
    in_topic, alerts_topic = topic("gpu-alloc"), topic("alerts")
    for name in (in_topic, alerts_topic):
        kafka_local("create-topic", name, "1")
    events, alerting = gpu_alloc_events(200)
    produce(in_topic, events)

    def config(name, cert, key, metrics_port):
        sec = ("security: {protocol: ssl, ca_file: %s, cert_file: %s, key_file: %s}"
               % (PROPS["ssl.ca.location"], cert, key))
        path = os.path.join(WORK, name)
        with open(path, "w") as f:
            f.write(f"""rules: [{SRC}/rules]
enrich:
  geoip: {SRC}/tests/data/geoip/test-country.mmdb
  directory: {SRC}/tests/data/directory.csv
sources:
  - {{type: kafka, brokers: "{mtls}", group: {topic("group")}, topics: [{{topic: {in_topic}, format: gpu_alloc}}], {sec}}}
sinks:
  - {{type: kafka, brokers: "{mtls}", topic: {alerts_topic}, {sec}}}
  - {{type: file, path: {os.path.join(WORK, "alerts.jsonl")}}}
metrics: {{listen: 127.0.0.1:{metrics_port}}}
shutdown_timeout: 10
""")
        return path

    good = config("mtls.yaml", os.path.join(tls_dir, "client.pem"),
                  os.path.join(tls_dir, "client.key"), 19474)
    d = Daemon(good, "daemon")
    DAEMONS.append(d)
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    deadline = time.time() + 60
    while True:
        on_topic = {k for k in consume_all(alerts_topic, "%k\n").split()}
        if {a["event_id"] for a in alerts_in_file(alerts_file)} >= alerting and on_topic >= alerting:
            break
        if not d.alive():
            fail("daemon exited:\n" + d.text()[-4000:])
        if time.time() > deadline:
            fail("timed out waiting for the alerts over mutual TLS\n" + d.text()[-4000:])
        time.sleep(0.5)
    if d.stop() != 0:
        fail("exit code after SIGTERM\n" + d.text()[-4000:])
    log(f"ok: {len(alerting)} alerts over mutual TLS")

    # A client certificate the broker's CA did not sign: refused, and the daemon says so.
    key, cert = os.path.join(WORK, "self.key"), os.path.join(WORK, "self.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=self-signed"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    expect_loud_failure(config("self-signed.yaml", cert, key, 19475), 19475, "daemon-2",
                        ["TLS error"])


def case_broker_restart():
    """The secured broker goes away and comes back: reconnecting over TLS is not mistaken for a
    TLS or authentication failure; the daemon keeps running and raises every alert."""
    in_topic, alerts_topic, dlq = topic("gpu-alloc"), topic("alerts"), topic("dead-letter")
    for name, partitions in ((in_topic, 1), (alerts_topic, 1), (dlq, 1)):
        kafka_local("create-topic", name, str(partitions))
    events, alerting = gpu_alloc_events(400)
    produce(in_topic, events[:200])
    alerts_file = os.path.join(WORK, "alerts.jsonl")
    password_file = write_secret("kafka.password", PASSWORD + "\n")
    cfg = write_config("restart.yaml", in_topic, alerts_topic, dlq, alerts_file, password_file,
                       PROPS["ssl.ca.location"], 19473)
    d = Daemon(cfg, "daemon")
    DAEMONS.append(d)

    def wait_alerts(want, timeout, what):
        deadline = time.time() + timeout
        while {a["event_id"] for a in alerts_in_file(alerts_file)} < want:
            if not d.alive():
                fail(f"daemon exited while waiting for {what}:\n" + d.text()[-4000:])
            if time.time() > deadline:
                fail(f"timed out waiting for {what}\n" + d.text()[-4000:])
            time.sleep(0.25)

    first = {e for e in alerting if int(e.rsplit("-", 1)[1]) < 200}
    wait_alerts(first, 60, "the alerts of the first half")
    kafka_local("stop")
    log("broker stopped")
    time.sleep(3)  # the outage itself: the daemon must ride out 3 s without a broker (not a wait)
    if not d.alive():
        fail("daemon exited while the broker was down:\n" + d.text()[-4000:])
    env = dict(os.environ, KAFKA_PORT=str(PORT), KAFKA_KEEP_DATA="1")
    subprocess.run([KAFKA_LOCAL, "start"], check=True, env=env, capture_output=True)
    log("broker back")
    produce(in_topic, events[200:])
    wait_alerts(alerting, 90, "every alert after the broker restart")
    if d.stop() != 0:
        fail("exit code after SIGTERM\n" + d.text()[-4000:])
    if "critical" in d.text():
        fail("a critical line during a broker restart:\n" + d.text()[-4000:])
    log("ok: secured broker restart survived, every alert raised")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
if CASE not in CASES:
    fail(f"unknown case {CASE}; known: {', '.join(CASES)}")
t0 = time.time()
CASES[CASE]()
log(f"{CASE} passed in {time.time() - t0:.1f}s")
