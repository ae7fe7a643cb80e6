#!/usr/bin/python3
"""The Kafka baseline: a Python consumer doing bench/baseline.py's checks, the way a SOC engineer
would run it in production with at-least-once delivery.

    kafka_baseline.py --brokers B --topic T --alerts-topic A --group G --rules DIR --geoip F
                      --expect-events N

Consumes T in batches (consume(500)), checks every record (json.loads, catalog regexes, GeoIP,
tiers), produces each alert to A keyed by event id, flushes the producer (alerts acknowledged), then
commits the batch's offsets synchronously. Stops after N events; prints one JSON line: events,
alerts, seconds (first message received to last commit) and events_per_s.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline import Checker, Policy  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for k in ("brokers", "topic", "alerts-topic", "group", "rules", "geoip"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--expect-events", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()
    checker = Checker(Policy(a.rules), a.geoip)
    consumer = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    producer = Producer({"bootstrap.servers": a.brokers, "enable.idempotence": True, "linger.ms": 5})
    consumer.subscribe([a.topic])
    events = alerts = bad = 0
    t_first = None
    deadline = time.time() + a.timeout
    while events < a.expect_events and time.time() < deadline:
        batch = consumer.consume(num_messages=500, timeout=1.0)
        if not batch:
            continue
        if t_first is None:
            t_first = time.perf_counter()
        for msg in batch:
            if msg.error():
                continue
            events += 1
            try:
                rec = json.loads(msg.value())
            except ValueError:
                bad += 1
                continue
            for al in checker.check(rec):
                producer.produce(a.alerts_topic, key=al["event_id"], value=json.dumps(al))
                alerts += 1
            producer.poll(0)
        producer.flush()                       # every alert of the batch acknowledged
        consumer.commit(asynchronous=False)    # then the batch's offsets
    t_done = time.perf_counter()
    consumer.close()
    secs = t_done - (t_first or t_done)
    print(json.dumps({"events": events, "alerts": alerts, "undecodable": bad, "seconds": secs,
                      "events_per_s": events / secs if secs else 0}))
    return 0 if events >= a.expect_events else 1


if __name__ == "__main__":
    sys.exit(main())
