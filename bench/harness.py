#!/usr/bin/python3
"""bench/run's measurement driver (run it through bench/run, which builds first).

Every figure is measured in this run on this machine, and every headline number is a ratio against
a baseline measured in the same run on the same file: the machine is small and noisy. Contenders are
interleaved round by round (A B C, A B C, A B C) and the median of the rounds is reported.
Results go to build/bench/results/results.json and into docs/benchmarks.md between the
<!-- bench:results:begin --> and <!-- bench:results:end --> markers (nothing else is touched).
"""
import datetime
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BENCH_BUILD", os.path.join(SRC, "build/bench"))
CW = os.path.join(BUILD, "daemon/chipwatch")
PARSE_ONLY = os.path.join(BUILD, "bench/parse_only")
MICRO = os.path.join(BUILD, "bench/chipwatch_micro")
STATE_BENCH = os.path.join(BUILD, "bench/state_bench")
PY = "/usr/bin/python3"
GEOIP = os.path.join(SRC, "tests/data/geoip/test-country.mmdb")
RULES = os.path.join(SRC, "rules")
SCALE = os.environ.get("BENCH_SCALE", "small")
REPS = int(os.environ.get("BENCH_REPS", "3"))
FAST_REPS = max(REPS, 3 * REPS)  # rounds for chipwatch and parse-only in the throughput table
SKIP = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))  # e.g. kafka,micro,rules,state
STATE_GROUPS = 1_000_000  # groups per correlation in the state benchmark (both scales)
DATA = os.path.join(BUILD, "data")
OUT = os.path.join(BUILD, "results")
KAFKA_PORT = int(os.environ.get("BENCH_KAFKA_PORT", "19392"))
BROKERS = f"127.0.0.1:{KAFKA_PORT}"

SIZES = {  # CloudTrail lines: throughput file, memory test big/small (~1.3 KB per line)
    "small": {"rules_lines": 200_000, "lines": 200_000, "mem_big": 200_000, "mem_small": 20_000, "kafka": 200_000, "latency_s": 20},
    "full": {"rules_lines": 200_000, "lines": 800_000, "mem_big": 800_000, "mem_small": 80_000, "kafka": 300_000, "latency_s": 60},
}[SCALE]

results = {"scale": SCALE, "reps": REPS}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------- utils
def run_timed(cmd, stdout_path=os.devnull, stdin_path=None):
    """Runs cmd; returns (wall seconds, max RSS KiB, returncode, stderr text)."""
    with open(stdout_path, "wb") as out, open(stdin_path or os.devnull, "rb") as inp:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, stdin=inp)
        err = p.stderr.read().decode(errors="replace")
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_maxrss, p.returncode, err


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def gen_events(fmt, count, seed=1):
    path = os.path.join(DATA, f"{fmt}-{count}-s{seed}.jsonl")
    stamp = os.path.getmtime(os.path.join(SRC, "bench/gen_events.py"))
    if not (os.path.exists(path) and os.path.getmtime(path) > stamp):
        log(f"generating {count} {fmt} records -> {path}")
        subprocess.run([PY, os.path.join(SRC, "bench/gen_events.py"), "--format", fmt, "--count", str(count),
                        "--seed", str(seed), "--out", path + ".tmp"], check=True)
        os.replace(path + ".tmp", path)
    return path


def head_file(src, n, dst):
    if not os.path.exists(dst):
        with open(src, "rb") as f, open(dst + ".tmp", "wb") as o:
            for i, line in enumerate(f):
                if i >= n:
                    break
                o.write(line)
        os.replace(dst + ".tmp", dst)
    return dst


def replay_cmd(path, threads, extra_rules=()):
    cmd = [CW, "replay", "--rules", RULES]
    for r in extra_rules:
        cmd += ["--rules", r]
    return cmd + ["--geoip", GEOIP, "--format", "cloudtrail", "--threads", str(threads), path]


REPLAY_RE = re.compile(r"(\d+) events, (\d+) alerts, (\d+) undecodable records \(([\d.]+) MB in ([\d.]+) s\)")


# --------------------------------------------------------------------------- 1. throughput ratios
def split_halves(path):
    """The file's two halves (by lines), for two parse-only processes at once."""
    a, b = path + ".half1", path + ".half2"
    if not (os.path.exists(a) and os.path.exists(b)):
        n = count_lines(path)
        with open(path, "rb") as f, open(a + ".tmp", "wb") as x, open(b + ".tmp", "wb") as y:
            for i, line in enumerate(f):
                (x if i < n // 2 else y).write(line)
        os.replace(a + ".tmp", a)
        os.replace(b + ".tmp", b)
    return a, b


def run_pair(cmds):
    """Runs the commands at once; returns the wall time until both have finished."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"{p.args} failed ({p.returncode})")
    return time.perf_counter() - t0


def throughput(path):
    lines = count_lines(path)
    size = os.path.getsize(path)
    jq_filter = subprocess.run([PY, os.path.join(SRC, "bench/baseline.py"), "--rules", RULES, "--emit-jq"],
                               check=True, capture_output=True, text=True).stdout.strip()
    contenders = {
        "chipwatch_t1": replay_cmd(path, 1),
        "chipwatch_all": replay_cmd(path, 0),
        "parse_only": [PARSE_ONLY, path],
        "python": [PY, os.path.join(SRC, "bench/baseline.py"), "--rules", RULES, "--geoip", GEOIP, path],
        "jq": ["jq", "-c", jq_filter, path],
    }
    halves = split_halves(path)
    walls = {k: [] for k in contenders}
    walls["parse_only_x2"] = []
    process = {"chipwatch_t1": [], "chipwatch_all": []}
    alerts = {}
    slow = {"python", "jq"}
    for r in range(FAST_REPS):  # the fast contenders run more rounds: a round is under a second
        for name, cmd in contenders.items():
            if name in slow and r >= REPS:
                continue
            out = os.path.join(OUT, f"tp-{name}.out")
            wall, rss, rc, err = run_timed(cmd, out)
            if rc not in (0,):
                raise SystemExit(f"{name} failed ({rc}): {err[-2000:]}")
            walls[name].append(wall)
            alerts[name] = count_lines(out)
            if name in process:
                m = REPLAY_RE.search(err)
                if not m:
                    raise SystemExit(f"{name}: no replay summary in: {err[-2000:]}")
                process[name].append(float(m.group(5)))
            log(f"  round {r + 1} {name}: {wall:.2f} s")
        # The machine's own parallel ceiling: two independent parse-only processes, a half each.
        wall = run_pair([[PARSE_ONLY, h] for h in halves])
        walls["parse_only_x2"].append(wall)
        log(f"  round {r + 1} parse_only_x2: {wall:.2f} s")
    t = {k: med(v) for k, v in walls.items()}
    pt = {k: med(v) for k, v in process.items()}
    res = {"file": os.path.relpath(path, SRC), "lines": lines, "bytes": size, "median_s": t,
           "all_s": walls, "outputs": alerts, "process_s": pt, "all_process_s": process,
           "events_per_s": {k: lines / v for k, v in t.items()},
           "mb_per_s": {k: size / 1e6 / v for k, v in t.items()},
           "steady_events_per_s": {k: lines / v for k, v in pt.items()}}
    results["throughput"] = res
    return res


# ---------------------------------------------------------------------------- 2. rule scaling
def rule_scaling(path):
    packs = {"default": []}
    for n in (1000, 10000):
        p = os.path.join(DATA, f"rules-{n}.yaml")
        subprocess.run([PY, os.path.join(SRC, "bench/gen_rules.py"), "--count", str(n), "--seed", "1", "--out", p],
                       check=True)
        packs[f"+{n}"] = [p]
    res = {}
    for name, extra in packs.items():
        cmd = [CW, "check", "--rules", RULES] + [a for r in extra for a in ("--rules", r)]
        wall, _, rc, err = run_timed(cmd)
        if rc not in (0, 1):
            raise SystemExit(f"check {name} failed ({rc}): {err[-2000:]}")
        res[name] = {"check_s": wall, "replay_wall_s": [], "process_s": [], "alerts": None}
        log(f"  check {name}: {wall:.2f} s")
    for r in range(max(REPS, 5)):  # per-event differences are a fraction of a second: more rounds
        for name, extra in packs.items():
            wall, _, rc, err = run_timed(replay_cmd(path, 1, extra), os.path.join(OUT, f"rules-{name}.out"))
            m = REPLAY_RE.search(err)
            if rc != 0 or not m:
                raise SystemExit(f"replay with {name} failed ({rc}): {err[-2000:]}")
            res[name]["replay_wall_s"].append(wall)
            res[name]["process_s"].append(float(m.group(5)))
            res[name]["alerts"] = int(m.group(2))
            res[name]["events"] = int(m.group(1))
            log(f"  round {r + 1} rules {name}: {wall:.2f} s wall, {m.group(5)} s processing")
    base = med(res["default"]["process_s"])
    for name, v in res.items():
        p = med(v["process_s"])
        v["events_per_s"] = v["events"] / p
        v["per_event_us"] = p / v["events"] * 1e6
        v["per_event_ratio"] = p / base
        v["load_s"] = med(v["replay_wall_s"]) - p  # rule load + compile inside the replay
    results["rules"] = res


# --------------------------------------------------------------------------------- 3. memory
def memory(base, small):
    """Peak RSS of replay for 0.1x, 1x and 4x the file (4x: the file given four times). A fixed
    working set (rules, GeoIP, per-worker buffers, chunks in flight) is reached within the first
    tens of MB, so flatness is judged between 1x and 4x; 0.1x is shown for reference."""
    res = {}
    inputs = {"small": [small], "base": [base], "big": [base] * 4}
    for label, paths in inputs.items():
        rss = []
        for _ in range(REPS):
            cmd = replay_cmd(paths[0], 0)[:-1] + paths
            wall, kib, rc, err = run_timed(cmd)
            if rc != 0:
                raise SystemExit(f"memory replay failed: {err[-2000:]}")
            rss.append(kib)
        size = sum(os.path.getsize(p) for p in paths)
        res[label] = {"file": " ".join(os.path.relpath(p, SRC) for p in paths[:1]) + (f" x{len(paths)}" if len(paths) > 1 else ""),
                      "bytes": size, "peak_rss_kib": med(rss)}
        log(f"  memory {label} ({size / 1e6:.0f} MB): {med(rss) / 1024:.1f} MiB peak RSS")
    res["ratio"] = res["big"]["peak_rss_kib"] / res["base"]["peak_rss_kib"]
    results["memory"] = res


# ---------------------------------------------------------------------------------- 4. kafka
def kafka_local(*args):
    env = dict(os.environ, KAFKA_PORT=str(KAFKA_PORT), KAFKA_HEAP=os.environ.get("KAFKA_HEAP", "1g"))
    return subprocess.run([os.path.join(SRC, "scripts/kafka-local"), *args], env=env, check=True,
                          stdout=subprocess.DEVNULL)


def metrics_value(port, name):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read().decode()
    except OSError:
        return None
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def write_config(path, group, topic, alerts_file, alerts_topic, dlq, metrics_port):
    with open(path, "w") as f:
        f.write(f"""rules: [{RULES}]
enrich:
  geoip: {GEOIP}
sources:
  - type: kafka
    brokers: {BROKERS}
    group: {group}
    topics: [{{topic: {topic}, format: cloudtrail}}]
    properties: {{session.timeout.ms: "6000", heartbeat.interval.ms: "500"}}
sinks:
  - {{type: kafka, brokers: {BROKERS}, topic: {alerts_topic}}}
  - {{type: file, path: {alerts_file}}}
dead_letter: {{type: kafka, brokers: {BROKERS}, topic: {dlq}}}
metrics: {{listen: 127.0.0.1:{metrics_port}}}
workers: {os.cpu_count()}
shutdown_timeout: 20
""")


def produce_lines(lines, topic):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": BROKERS, "linger.ms": 20, "compression.type": "lz4",
                  "queue.buffering.max.messages": 1_000_000, "batch.num.messages": 10000})
    for i, line in enumerate(lines):
        while True:
            try:
                p.produce(topic, value=line, key=f"k{i}")
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    p.flush(60)


def alert_count(path):
    return count_lines(path) if os.path.exists(path) else 0


class Daemon:
    def __init__(self, cfg, log_path):
        self.logf = open(log_path, "wb")
        self.proc = subprocess.Popen([CW, "run", "--config", cfg], stdout=subprocess.DEVNULL, stderr=self.logf)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()

    def rss_kib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None


def kafka_bench(ct_path):
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    run_id = f"{int(time.time())}"
    n = SIZES["kafka"]
    partitions = os.cpu_count()
    src = head_file(ct_path, n, os.path.join(DATA, f"kafka-{n}.jsonl"))
    with open(src, "rb") as f:
        lines = f.read().splitlines()
    # The alerts chipwatch raises on these events (replay is the reference).
    exp_out = os.path.join(OUT, "kafka-expected.jsonl")
    run_timed(replay_cmd(src, 0), exp_out)
    expected = alert_count(exp_out)
    admin = AdminClient({"bootstrap.servers": BROKERS})
    names = {k: f"bench-{k}-{run_id}" for k in ("events", "events-py", "alerts", "alerts-py", "dlq",
                                                 "lat", "lat-alerts", "lat-dlq")}
    # The latency topic stamps records with the broker's append time, which splits each alert's
    # latency into producer + broker (send to append) and consumer + chipwatch (append to alert).
    fs = admin.create_topics([NewTopic(t, partitions if k in ("events", "events-py", "lat") else 1, 1,
                                       config={"message.timestamp.type": "LogAppendTime"} if k == "lat" else {})
                              for k, t in names.items()])
    for f in fs.values():
        f.result(30)
    log(f"  producing {n} CloudTrail events to two topics")
    t0 = time.perf_counter()
    produce_lines(lines, names["events"])
    produce_s = time.perf_counter() - t0
    produce_lines(lines, names["events-py"])
    res = {"events": n, "bytes": sum(map(len, lines)), "expected_alerts": expected, "partitions": partitions,
           "produce_events_per_s": n / produce_s}

    def chipwatch_round(r):
        """chipwatch run: consume everything, alerts acknowledged, offsets committed. A new group
        per round, so every round reads the topic from its start."""
        alerts_file = os.path.join(OUT, f"kafka-alerts-{run_id}-{r}.jsonl")
        cfg = os.path.join(OUT, "kafka-bench.yaml")
        mport = 19500 + os.getpid() % 400
        group = f"bench-cw-{run_id}-{r}"
        write_config(cfg, group, names["events"], alerts_file, names["alerts"], names["dlq"], mport)
        # One client, made before the daemon starts, reads the group's committed offsets (it does
        # not join the group); a new client per check would cost more than the check itself.
        offsets = Consumer({"bootstrap.servers": BROKERS, "group.id": group, "enable.auto.commit": False})
        tps = [TopicPartition(names["events"], p) for p in range(partitions)]
        log_path = os.path.join(OUT, f"kafka-daemon-{r}.log")
        d = Daemon(cfg, log_path)
        t_first = t_done = None
        rss = []
        try:
            deadline = time.time() + 600
            while time.time() < deadline:
                if d.proc.poll() is not None:
                    raise SystemExit("chipwatch run exited early; see " + log_path)
                if t_first is None:
                    # The clock starts at the first message consumed (as the baseline's starts at its
                    # first batch): look often, the whole run takes about a second.
                    now = time.perf_counter()
                    if metrics_value(mport, "chipwatch_messages_total"):
                        t_first = now
                    else:
                        time.sleep(0.002)
                        continue
                r_kib = d.rss_kib()
                if r_kib:
                    rss.append(r_kib)
                if alert_count(alerts_file) >= expected:
                    done = sum(max(o.offset, 0) for o in offsets.committed(tps, timeout=5))
                    if done >= n:
                        t_done = time.perf_counter()
                        break
                time.sleep(0.01)
        finally:
            d.stop()
            offsets.close()
        if t_done is None:
            raise SystemExit("chipwatch run did not finish the Kafka backlog in time")
        secs = t_done - t_first
        log(f"  chipwatch run: {n} events in {secs:.2f} s")
        return {"seconds": secs, "events_per_s": n / secs, "alerts": alert_count(alerts_file),
                "rss_max_kib": max(rss) if rss else None}

    def python_round(r):
        """The Python consumer baseline, a new group per round as well."""
        out = subprocess.run([PY, os.path.join(SRC, "bench/kafka_baseline.py"), "--brokers", BROKERS,
                              "--topic", names["events-py"], "--alerts-topic", names["alerts-py"],
                              "--group", f"bench-py-{run_id}-{r}", "--rules", RULES, "--geoip", GEOIP,
                              "--expect-events", str(n)], check=True, capture_output=True, text=True,
                             timeout=1800)
        py = json.loads(out.stdout.strip().splitlines()[-1])
        log(f"  python consumer: {n} events in {py['seconds']:.2f} s")
        return py

    # Interleaved rounds (chipwatch, Python, chipwatch, Python, ...), medians reported: one round of
    # chipwatch lasts about a second on this machine, far too short for a single sample.
    cw_rounds, py_rounds = [], []
    for r in range(REPS):
        cw_rounds.append(chipwatch_round(r))
        py_rounds.append(python_round(r))
    cw_s, py_s = med([x["seconds"] for x in cw_rounds]), med([x["seconds"] for x in py_rounds])
    cw_mid = min(cw_rounds, key=lambda x: abs(x["seconds"] - cw_s))
    py_mid = min(py_rounds, key=lambda x: abs(x["seconds"] - py_s))
    res["chipwatch"] = {"seconds": cw_s, "events_per_s": n / cw_s, "alerts": cw_mid["alerts"],
                        "rss_max_kib": max((x["rss_max_kib"] or 0) for x in cw_rounds) or None,
                        "rounds_s": [x["seconds"] for x in cw_rounds]}
    res["python"] = dict(py_mid, seconds=py_s, events_per_s=n / py_s,
                         rounds_s=[x["seconds"] for x in py_rounds])
    res["ratio"] = res["chipwatch"]["events_per_s"] / res["python"]["events_per_s"]
    log(f"  medians of {REPS}: chipwatch {cw_s:.2f} s, Python {py_s:.2f} s, ratio {res['ratio']:.2f}")

    # -- alert latency at half the sustained rate, steady-state RSS. Producer, broker and daemon
    # share this machine's cores, so the rate the pipeline sustains with all three running is
    # about 1 / (1/consume + 1/produce) (both measured above), not chipwatch's consume rate alone.
    cw_rate, prod_rate = res["chipwatch"]["events_per_s"], res["produce_events_per_s"]
    res["sustained_events_per_s"] = 1 / (1 / cw_rate + 1 / prod_rate)
    rate = res["sustained_events_per_s"] / 2
    res["latency"] = latency(names, lines, rate, partitions, run_id)
    results["kafka"] = res


def latency(names, lines, rate, partitions, run_id):
    import textwrap
    from confluent_kafka import Producer
    # Follows the alerts file in its own process, so that a busy producer (the parent holds the GIL
    # while it paces) never delays an observation: woken by inotify, it prints "<event_id> <time>" per
    # new alert line (time.monotonic(), the parent's clock too) and exits when its stdin closes.
    tail_code = textwrap.dedent(r"""
        import ctypes, os, re, select, sys, time
        path = sys.argv[1]
        libc = ctypes.CDLL(None, use_errno=True)
        ino = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if ino >= 0 and libc.inotify_add_watch(ino, os.path.dirname(path).encode(), 0x2 | 0x100) < 0:  # MODIFY|CREATE
            os.close(ino)
            ino = -1
        deadline = time.monotonic() + 60
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                sys.exit("no " + path)
            time.sleep(0.001)
        id_re = re.compile(rb'"event_id":"([^"]+)"')
        out = sys.stdout
        with open(path, "rb") as f:
            buf = b""
            print("ready", flush=True)
            while True:
                fds = [0] + ([ino] if ino >= 0 else [])
                readable, _, _ = select.select(fds, [], [], 0.05 if ino >= 0 else 0.001)
                if ino in readable:
                    try:
                        os.read(ino, 65536)
                    except BlockingIOError:
                        pass
                chunk = f.read()
                if chunk:
                    now = time.monotonic()
                    buf += chunk
                    *done, buf = buf.split(b"\n")
                    for line in done:
                        m = id_re.search(line)
                        if m:
                            out.write(f"{m.group(1).decode()} {now:.6f}\n")
                    out.flush()
                if 0 in readable and not sys.stdin.buffer.read1(1):
                    break
    """)
    # Which events alert (by id), from the reference replay.
    alerting = set()
    with open(os.path.join(OUT, "kafka-expected.jsonl")) as f:
        for line in f:
            alerting.add(json.loads(line)["event_id"])
    # Each line split around its event id once, so that pacing costs one produce() per event: repeated
    # passes over the file get fresh ids (every alert is new) without a regex per event.
    id_re = re.compile(rb'"eventID":"([^"]+)"')
    parts = []
    for line in lines:
        m = id_re.search(line)
        eid = m.group(1).decode()
        parts.append((line[:m.start(1)], eid, line[m.end(1):], eid in alerting))
    alerts_file = os.path.join(OUT, f"latency-alerts-{run_id}.jsonl")
    cfg = os.path.join(OUT, "latency.yaml")
    mport = 19500 + (os.getpid() + 1) % 400
    write_config(cfg, f"bench-lat-{run_id}", names["lat"], alerts_file, names["lat-alerts"], names["lat-dlq"], mport)
    d = Daemon(cfg, os.path.join(OUT, "latency-daemon.log"))
    sent, arrived, appended, rss = {}, {}, {}, []
    tail = reader = None
    wall_minus_mono = time.time() - time.monotonic()

    def on_delivery(err, msg):  # alerting events only: the broker's append time (ms, wall clock)
        kind, ts = msg.timestamp()
        if err is None and kind == 2:  # TIMESTAMP_LOG_APPEND_TIME
            appended[msg.key().decode()] = ts / 1000 - wall_minus_mono

    def read_tail():
        for line in tail.stdout:
            eid, t = line.split()
            arrived.setdefault(eid, float(t))

    try:
        # ready: the group has its partitions
        deadline = time.time() + 60
        while time.time() < deadline:
            if d.proc.poll() is not None:
                raise SystemExit("chipwatch run exited early; see " + os.path.join(OUT, "latency-daemon.log"))
            if metrics_value(mport, "chipwatch_ready"):
                break
            time.sleep(0.1)
        tail = subprocess.Popen([PY, "-c", tail_code, alerts_file], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        if tail.stdout.readline().strip() != "ready":
            raise SystemExit("latency: the alerts file follower did not start")
        reader = threading.Thread(target=read_tail, daemon=True)
        reader.start()
        p = Producer({"bootstrap.servers": BROKERS, "linger.ms": 1, "compression.type": "lz4",
                      "queue.buffering.max.messages": 1_000_000})
        # Warm-up: one alerting record end to end through the same producer (its connection and the
        # daemon's fetch position are then established), not counted.
        pre, eid, post, _ = next(x for x in parts if x[3])
        warm = f"{eid}-warmup"
        p.produce(names["lat"], value=pre + warm.encode() + post, key=warm)
        p.flush(30)
        deadline = time.time() + 60
        while warm not in arrived and time.time() < deadline:
            time.sleep(0.01)
        if warm not in arrived:
            raise SystemExit("latency: the warm-up alert did not arrive; see " + os.path.join(OUT, "latency-daemon.log"))
        time.sleep(0.5)
        duration = SIZES["latency_s"]
        total = int(rate * duration)
        log(f"  latency: pacing {total} events at {rate:.0f}/s for {duration} s")
        produce = p.produce
        topic = names["lat"]
        n_lines = len(parts)
        t0 = time.monotonic()
        next_rss = t0 + duration / 2
        tick = 0.01
        i = 0
        while i < total:
            now = time.monotonic()
            target = t0 + i / rate
            if now < target:
                time.sleep(min(tick, target - now))
                continue
            # send everything that is due
            due = min(total, int((now - t0) * rate) + 1)
            while i < due:
                pre, eid, post, alerts = parts[i % n_lines]
                if i >= n_lines:
                    eid = f"{eid}-r{i // n_lines}"
                if alerts:
                    produce(topic, value=pre + eid.encode() + post, key=eid, on_delivery=on_delivery)
                    sent[eid] = time.monotonic()
                else:
                    produce(topic, value=pre + eid.encode() + post, key=eid)
                i += 1
            p.poll(0)
            if now >= next_rss:  # steady state: the second half
                r = d.rss_kib()
                if r:
                    rss.append(r)
                next_rss = now + 0.25
        achieved = total / (time.monotonic() - t0)
        p.flush(30)
        deadline = time.time() + 60
        while time.time() < deadline and any(k not in arrived for k in sent):
            time.sleep(0.05)
    finally:
        if tail is not None:
            tail.stdin.close()
            try:
                tail.wait(10)
            except subprocess.TimeoutExpired:
                tail.kill()
            if reader is not None:
                reader.join(10)  # every line the follower printed is in `arrived`
        d.stop()

    def quantiles(xs):
        xs = sorted(xs)
        return {q: xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan") for q in (0.5, 0.99)}

    lat = sorted((arrived[k] - s) * 1000 for k, s in sent.items() if k in arrived)
    q = quantiles(lat)
    # The two legs (the broker's clock has millisecond resolution)
    to_append = quantiles([(appended[k] - s) * 1000 for k, s in sent.items() if k in appended])
    to_alert = quantiles([(arrived[k] - a) * 1000 for k, a in appended.items() if k in arrived])
    res = {"target_rate": rate, "achieved_rate": achieved, "alerts_sent": len(sent), "alerts_seen": len(lat),
           "p50_ms": q[0.5], "p99_ms": q[0.99], "max_ms": lat[-1] if lat else float("nan"),
           "send_to_append_p50_ms": to_append[0.5], "send_to_append_p99_ms": to_append[0.99],
           "append_to_alert_p50_ms": to_alert[0.5], "append_to_alert_p99_ms": to_alert[0.99],
           "steady_rss_kib": med(rss), "steady_rss_max_kib": max(rss) if rss else None}
    log(f"  latency p50 {res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms over {len(lat)} alerts "
        f"(achieved {achieved:.0f} of {rate:.0f} events/s); send to broker append p50 {to_append[0.5]:.1f} / "
        f"p99 {to_append[0.99]:.1f} ms, broker append to alert line p50 {to_alert[0.5]:.1f} / p99 {to_alert[0.99]:.1f} ms")
    return res


# ---------------------------------------------------------------------------------- 5. micro
def micro():
    data = os.path.join(DATA, "micro")
    os.makedirs(data, exist_ok=True)
    for fmt in ("cloudtrail", "gcp_audit", "azure_activity", "k8s_audit", "gpu_alloc"):
        dst = os.path.join(data, f"{fmt}.jsonl")
        if not os.path.exists(dst):
            subprocess.run([PY, os.path.join(SRC, "bench/gen_events.py"), "--format", fmt, "--count", "2000",
                            "--seed", "7", "--out", dst], check=True)
    out = os.path.join(OUT, "micro.json")
    subprocess.run([MICRO, "--benchmark_format=json", f"--benchmark_out={out}", "--benchmark_min_time=0.3",
                    "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                   env=dict(os.environ, CHIPWATCH_BENCH_DATA=data), check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        j = json.load(f)
    res = {}
    for b in j["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"]
        res[name] = {"ns_per_event": 1e9 / b["items_per_second"] if b.get("items_per_second") else None,
                     "events_per_s": b.get("items_per_second")}
    results["micro"] = res


# ---------------------------------------------------------------------------------- 6. state
STATE_TYPES = ("event_count", "value_count", "temporal")


def state_bench():
    """bench/state_bench.cc in a fresh process per round and correlation type: resident memory of
    STATE_GROUPS groups (one entry each), snapshot (Save + WriteStateSnapshot, fsync included) and
    restore (ReadStateSnapshot + Load) times. Rounds interleaved by type; medians."""
    runs = {t: [] for t in STATE_TYPES}
    for _ in range(REPS):
        for t in STATE_TYPES:
            p = subprocess.run([STATE_BENCH, t, str(STATE_GROUPS), DATA], capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"state_bench {t} failed: {p.stderr[-2000:]}")
            runs[t].append(json.loads(p.stdout))
    res = {}
    for t, rs in runs.items():
        res[t] = {k: med([r[k] for r in rs]) for k in rs[0] if k != "type"}
        v = res[t]
        log(f"  state {t}: {v['rss_delta_mb']:.0f} MB RSS for {STATE_GROUPS:,} groups, snapshot "
            f"{v['snapshot_ms']:.0f} ms (save {v['save_ms']:.0f} + write {v['write_ms']:.0f}), "
            f"restore {v['restore_ms']:.0f} ms")
    results["state"] = res


def render_state():
    st = results["state"]
    m = results["machine"]
    L = [f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), {m['mem_gib']} GiB RAM; commit "
         f"`{m['commit']}`; {results['reps']} rounds (a fresh process each), medians. "
         f"`bench/run state` reruns only this part.", ""]
    L.append(f"| correlation | RSS for {STATE_GROUPS:,} groups, MB | bytes/group | offer ns | saved MB "
             "| save ms | write ms | **snapshot ms** | read ms | load ms | restore ms |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in STATE_TYPES:
        v = st[t]
        L.append(f"| {t} | **{v['rss_delta_mb']:.0f}** | {v['bytes_per_group']:.0f} | {v['offer_ns']:.0f} | "
                 f"{v['state_mb']:.1f} | {v['save_ms']:.0f} | {v['write_ms']:.0f} | **{v['snapshot_ms']:.0f}** | "
                 f"{v['read_ms']:.0f} | {v['load_ms']:.0f} | {v['restore_ms']:.0f} |")
    L.append("")
    worst_rss = max(st[t]["rss_delta_mb"] for t in STATE_TYPES)
    worst_snap = max(st[t]["snapshot_ms"] for t in STATE_TYPES)
    L.append(f"Targets: {STATE_GROUPS:,} groups in under 300 MB RSS: worst {worst_rss:.0f} MB "
             f"{verdict(worst_rss < 300)}; snapshot of {STATE_GROUPS:,} groups under 1 s: worst "
             f"{worst_snap:.0f} ms {verdict(worst_snap < 1000)}.")
    return "\n".join(L)


# --------------------------------------------------------------------------------- report
def machine():
    cpu = "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", SRC, "status", "--porcelain", "--", "daemon"], capture_output=True, text=True).stdout.strip()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "mem_gib": round(mem, 1),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit + (" + uncommitted changes in daemon/" if dirty else "")}


def verdict(ok):
    return "**PASS**" if ok else "**MISS**"


def render():
    m = results["machine"]
    L = []
    L.append(f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), {m['mem_gib']} GiB RAM, Linux {m['kernel']}; "
             f"commit `{m['commit']}`; `BENCH_SCALE={results['scale']}`, {results['reps']} rounds, medians.")
    L.append("")
    tp = results.get("throughput")
    ratios = []
    if tp:
        t, e, mb = tp["median_s"], tp["events_per_s"], tp["mb_per_s"]
        L.append(f"### Replay throughput ({tp['lines']:,} CloudTrail lines, {tp['bytes'] / 1e6:.0f} MB, `{tp['file']}`)")
        L.append("")
        L.append("Wall-clock time of the whole process (start-up and rule compilation included), output to a file.")
        L.append("")
        L.append("| contender | median s | events/s | MB/s | output lines |")
        L.append("|---|---:|---:|---:|---:|")
        labels = {"chipwatch_t1": "chipwatch replay --threads 1", "chipwatch_all": f"chipwatch replay --threads 0 ({m['nproc']} cores)",
                  "parse_only": "parse-only limit (simdjson, 3 fields)",
                  "parse_only_x2": "parse-only, two processes at once (a half each)",
                  "python": "Python baseline (bench/baseline.py)", "jq": "jq filter (no GeoIP)"}
        for k, lab in labels.items():
            out_lines = f"{tp['outputs'][k]:,}" if k in tp["outputs"] else "-"
            L.append(f"| {lab} | {t[k]:.2f} | {e[k]:,.0f} | {mb[k]:.1f} | {out_lines} |")
        L.append("")
        se, ps = tp["steady_events_per_s"], tp["process_s"]
        L.append(f"chipwatch's own processing time (replay's summary: reading, decoding, matching and writing, without "
                 f"the one-off rule load and compile): 1 thread {ps['chipwatch_t1']:.2f} s = **{se['chipwatch_t1']:,.0f} events/s**, "
                 f"all cores {ps['chipwatch_all']:.2f} s = {se['chipwatch_all']:,.0f} events/s. "
                 f"Two parse-only processes at once run {t['parse_only'] / t['parse_only_x2']:.2f}x as fast as one: "
                 f"that is what this machine's cores give to perfectly independent work.")
        L.append("")
        ratios += [("chipwatch (1 thread) / parse-only, wall", e["chipwatch_t1"] / e["parse_only"], ">= 0.40", lambda x: x >= 0.40),
                   ("chipwatch (1 thread) / parse-only, processing time", se["chipwatch_t1"] / e["parse_only"], "(info)", None),
                   ("chipwatch (1 thread) events/s, processing time", se["chipwatch_t1"], ">= 1,000,000", lambda x: x >= 1e6),
                   ("chipwatch (1 thread) / Python, wall", e["chipwatch_t1"] / e["python"], ">= 8", lambda x: x >= 8),
                   ("chipwatch (all cores) / Python, wall", e["chipwatch_all"] / e["python"], "(info)", None),
                   ("chipwatch (1 thread) / jq, wall", e["chipwatch_t1"] / e["jq"], "(info)", None),
                   ("all cores / 1 thread, processing time", se["chipwatch_all"] / se["chipwatch_t1"], ">= 1.8", lambda x: x >= 1.8),
                   ("all cores / 1 thread, wall", e["chipwatch_all"] / e["chipwatch_t1"], "(info)", None),
                   ("parse-only: 2 processes / 1 (the machine's ceiling)", t["parse_only"] / t["parse_only_x2"], "(info)", None)]
    rs = results.get("rules")
    if rs:
        L.append(f"### Rule scaling (replay --threads 1 on the first {rs['default']['events']:,} lines of the same file)")
        L.append("")
        L.append("Per-event time is chipwatch's own processing time (`replay`'s summary, load excluded); "
                 "compile time is the wall time of `chipwatch check` on the pack (one run).")
        L.append("")
        L.append("| pack | rules added | check (compile) s | load in replay s | events/s | µs/event | per-event vs default | alerts |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, v in rs.items():
            added = 0 if name == "default" else int(name[1:])
            L.append(f"| {name} | {added:,} | {v['check_s']:.2f} | {v['load_s']:.2f} | {v['events_per_s']:,.0f} | "
                     f"{v['per_event_us']:.2f} | {v['per_event_ratio']:.2f}x | {v['alerts']:,} |")
        L.append("")
        for name in ("+1000", "+10000"):
            v = rs[name]
            ratios.append((f"per-event time, {name} rules / default", v["per_event_ratio"], "<= 2x", lambda x: x <= 2))
            ratios.append((f"compile time (check), {name} rules, s", v["check_s"], "< 10 s", lambda x: x < 10))
    mem = results.get("memory")
    if mem:
        L.append("### Memory (replay --threads 0, peak RSS from wait4)")
        L.append("")
        L.append("| file | MB | peak RSS MiB |")
        L.append("|---|---:|---:|")
        for k in ("small", "base", "big"):
            L.append(f"| `{mem[k]['file']}` | {mem[k]['bytes'] / 1e6:,.0f} | {mem[k]['peak_rss_kib'] / 1024:.1f} |")
        L.append("")
        ratios.append((f"peak RSS, {mem['big']['bytes'] / 1e6:,.0f} MB input / {mem['base']['bytes'] / 1e6:,.0f} MB input",
                       mem["ratio"], "<= 1.2 (flat)", lambda x: x <= 1.2))
    k = results.get("kafka")
    if k:
        L.append(f"### Kafka end to end (local broker, {k['partitions']} partitions, {k['events']:,} CloudTrail events pre-produced)")
        L.append("")
        L.append("From the first message consumed until every expected alert is acknowledged (file) and every offset "
                 "committed. chipwatch: alerts to the Kafka and file sinks, at-least-once commits. Python: "
                 "`bench/kafka_baseline.py` (confluent-kafka consumer, same checks, alerts produced and flushed, "
                 "synchronous commit after each batch).")
        L.append("")
        L.append("| contender | seconds | events/s | alerts |")
        L.append("|---|---:|---:|---:|")
        L.append(f"| chipwatch run ({m['nproc']} workers) | {k['chipwatch']['seconds']:.2f} | {k['chipwatch']['events_per_s']:,.0f} | {k['chipwatch']['alerts']:,} (expected {k['expected_alerts']:,}) |")
        L.append(f"| Python consumer | {k['python']['seconds']:.2f} | {k['python']['events_per_s']:,.0f} | {k['python']['alerts']:,} |")
        L.append("")
        lt = k["latency"]
        L.append(f"Sustained rate: the Python producer put {k['produce_events_per_s']:,.0f} events/s on the broker and "
                 f"chipwatch consumed {k['chipwatch']['events_per_s']:,.0f}/s; both share the same cores, so with "
                 f"producer, broker and daemon running together the pipeline sustains about 1 / (1/consume + 1/produce) "
                 f"= {k['sustained_events_per_s']:,.0f} events/s.")
        L.append("")
        L.append(f"Alert latency at half the sustained rate (target {lt['target_rate']:,.0f} events/s, achieved "
                 f"{lt['achieved_rate']:,.0f}/s by the paced Python producer, {SIZES['latency_s']} s): send time of an "
                 f"alerting event to the alert's line in the alerts file; {lt['alerts_seen']:,} of {lt['alerts_sent']:,} alerts seen. "
                 f"p50 **{lt['p50_ms']:.1f} ms**, p99 **{lt['p99_ms']:.1f} ms**, max {lt['max_ms']:.1f} ms; "
                 f"of that, send to broker append p50 {lt['send_to_append_p50_ms']:.1f} / p99 {lt['send_to_append_p99_ms']:.1f} ms "
                 f"(producer and broker), broker append to alert line p50 {lt['append_to_alert_p50_ms']:.1f} / "
                 f"p99 {lt['append_to_alert_p99_ms']:.1f} ms (consumer fetch, chipwatch, file sink). "
                 f"Steady-state daemon RSS (second half): median {lt['steady_rss_kib'] / 1024:.1f} MiB, max "
                 f"{(lt['steady_rss_max_kib'] or 0) / 1024:.1f} MiB.")
        L.append("")
        ratios.append(("Kafka: chipwatch run / Python consumer", k["ratio"], ">= 3", lambda x: x >= 3))
        ratios.append(("Kafka: p99 alert latency at half the sustained rate, from the record's produce (broker "
                       "append) timestamp to the alert line, ms", lt["append_to_alert_p99_ms"], "< 50", lambda x: x < 50))
        ratios.append(("Kafka: p99 alert latency, from the Python producer's send() call (producer and broker "
                       "on the same 2 cores included), ms", lt["p99_ms"], "(info)", None))
    if ratios:
        L.append("### Ratios vs targets")
        L.append("")
        L.append("| ratio | measured | target | verdict |")
        L.append("|---|---:|---|---|")
        for name, val, target, ok in ratios:
            shown = f"{val:,.0f}" if val >= 1000 else f"{val:.2f}"
            L.append(f"| {name} | {shown} | {target} | {verdict(ok(val)) if ok else '-'} |")
        L.append("")
    mi = results.get("micro")
    if mi:
        L.append("### Micro-benchmarks (bench/micro, Google Benchmark, median of 3, ns per event)")
        L.append("")
        fmts = ["cloudtrail", "gcp_audit", "azure_activity", "k8s_audit", "gpu_alloc"]
        L.append("| stage | " + " | ".join(fmts) + " |")
        L.append("|---|" + "---:|" * len(fmts))
        for stage in ("BM_Decode", "BM_Enrich", "BM_Match", "BM_Pipeline"):
            cells = []
            for f in fmts:
                v = mi.get(f"{stage}/{f}" + ("/manual_time" if stage in ("BM_Enrich", "BM_Match") else ""))
                cells.append(f"{v['ns_per_event']:.0f}" if v and v["ns_per_event"] else "-")
            L.append(f"| {stage[3:]} | " + " | ".join(cells) + " |")
        L.append("")
    if results.get("skipped"):
        L.append("Not measured in this run: " + ", ".join(results["skipped"]) + ".")
        L.append("")
    return "\n".join(L)


DOC_HEAD = """# Benchmarks

`bench/run` builds a Release tree (`build/bench`, `-DCHIPWATCH_BUILD_BENCH=ON`), generates seeded
data (`bench/gen_events.py`, `bench/gen_rules.py`), measures chipwatch against baselines measured
in the same run on the same files, and rewrites the section between the markers below. See
[bench/README.md](../bench/README.md). The machine is small and shared: only the ratios mean
anything, and only within one run.

"""
DOC_TAIL = """

## Profile

_To be filled by the replay hot-path optimization work (perf profile of `chipwatch replay` on the
benchmark file). `bench/run` never rewrites this section._
"""


STATE_HEADING = "## Stateful detections: memory and snapshots"


def write_doc(section, name="results"):
    """Replaces the text between <!-- bench:NAME:begin --> and <!-- bench:NAME:end -->."""
    path = os.path.join(SRC, "docs/benchmarks.md")
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    block = f"{begin}\n{section}\n{end}"
    if os.path.exists(path):
        with open(path) as f:
            doc = f.read()
        if begin in doc and end in doc:
            doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
        else:
            heading = STATE_HEADING + "\n\n" if name == "state" else ""
            doc = doc.rstrip("\n") + "\n\n" + heading + block + "\n"
        if "## Profile" not in doc:
            doc = doc.rstrip("\n") + "\n" + DOC_TAIL
    else:
        doc = DOC_HEAD + block + "\n" + DOC_TAIL
    with open(path + ".tmp", "w") as f:
        f.write(doc)
    os.replace(path + ".tmp", path)


def main():
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    results["machine"] = machine()
    results["skipped"] = []
    if sys.argv[1:] == ["state"]:  # bench/run state: only the state benchmark, its own block
        log(f"state: {STATE_GROUPS:,} groups per correlation type")
        state_bench()
        with open(os.path.join(OUT, "state.json"), "w") as f:
            json.dump(results, f, indent=1)
        section = render_state()
        write_doc(section, "state")
        print(section)
        log("wrote docs/benchmarks.md (state section) and " + os.path.join(OUT, "state.json"))
        return
    ct = gen_events("cloudtrail", SIZES["lines"])
    if "throughput" not in SKIP:
        log("throughput: chipwatch vs parse-only vs Python vs jq")
        throughput(ct)
    if "rules" not in SKIP:
        log("rule scaling")
        # a head of the throughput file: with 10,000 rules a replay costs far more per event
        rule_scaling(head_file(ct, SIZES["rules_lines"], os.path.join(DATA, f"cloudtrail-{SIZES['rules_lines']}-head.jsonl")))
    if "memory" not in SKIP:
        log("memory")
        base = gen_events("cloudtrail", SIZES["mem_big"])
        small = head_file(base, SIZES["mem_small"], os.path.join(DATA, f"cloudtrail-{SIZES['mem_small']}-head.jsonl"))
        memory(base, small)
    if "kafka" not in SKIP:
        log(f"kafka: local broker on {BROKERS}")
        started = subprocess.run([os.path.join(SRC, "scripts/kafka-local"), "status"],
                                 env=dict(os.environ, KAFKA_PORT=str(KAFKA_PORT)), capture_output=True).returncode != 0
        kafka_local("start")
        try:
            kafka_bench(ct)
        finally:
            if started and os.environ.get("BENCH_KEEP_BROKER") != "1":
                kafka_local("stop")
    else:
        results["skipped"].append("Kafka end to end (BENCH_SKIP=kafka)")
    if "micro" not in SKIP and os.path.exists(MICRO):
        log("micro-benchmarks")
        micro()
    if "state" not in SKIP:
        log("state: memory and snapshots")
        state_bench()
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    section = render()
    write_doc(section)
    print(section)
    if results.get("state"):
        write_doc(render_state(), "state")
    log("wrote docs/benchmarks.md and " + os.path.join(OUT, "results.json"))


if __name__ == "__main__":
    main()
