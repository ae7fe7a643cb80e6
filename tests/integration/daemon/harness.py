"""Helpers shared by the daemon integration tests (daemon_test.py, secure_test.py): logging,
reading an alert file and the gpu_alloc event generator. Nothing here depends on a test's
command line or broker."""
import json
import os
import random
import sys
import time


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fail(msg):
    log("FAIL: " + msg)
    sys.exit(1)


def alerts_in_file(path):
    """The complete alert lines written so far (a line still being written is left out)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


# The event time between two restricted allocations: more than the 1 h the default pack suppresses
# CW-HW-001 and CW-HW-004 repeats for (rules/README.md, "Correlations and suppression"), so that
# every restricted allocation raises its own alerts, in any partition. Times go on from one call
# to the next (from 2025-06-01T10:00:00Z), so that batches produced one after another stay in
# event-time order.
_RESTRICTED_EVERY = 61 * 60
_clock = [1748772000]


def gpu_alloc_events(n, seed, run_id):
    """n gpu_alloc records with ids unique to `run_id`; about one in eight is a restricted
    allocation from a CN address that raises CW-HW-001 (and CW-HW-004: tenant 'unlisted' is not
    in the directory). Event times do not decrease, within a call and from one call to the next,
    and two restricted allocations are 61 minutes of event time apart: no suppression window of
    the pack's holds two of them, so every one raises its alerts (these records test delivery;
    kafka.daemon.stateful tests suppression). Returns (lines, ids of the alerting records)."""
    rnd = random.Random(seed)
    events, alerting = [], set()
    for i in range(n):
        eid = f"{run_id}-{seed}-{i:06d}"
        restricted = rnd.random() < 0.125
        if restricted:
            _clock[0] += _RESTRICTED_EVERY
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_clock[0]))
        rec = {"schema": "gpu-alloc/v1", "event_id": eid, "time": at,
               "action": "allocate", "cluster": "c1", "node": f"n{i % 50}",
               "tenant": "unlisted" if restricted else "research", "user": "u",
               "gpu_model": "NVIDIA H100 80GB HBM3" if restricted else "Tesla T4",
               "gpu_count": 8, "job_id": f"j{i}", "region": "us-east-1",
               "src_ip": "1.202.77.60" if restricted else "203.0.113.7"}
        events.append(json.dumps(rec, separators=(",", ":")))
        if restricted:
            alerting.add(eid)
    return events, alerting
