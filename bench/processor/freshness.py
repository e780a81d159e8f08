#!/usr/bin/env python3
"""freshness.py — end-to-end delay from POST /v1/events to the rollup being visible.

Posts one probe event at a time (each for a tenant of its own, so its arrival is one new row)
at --rate per second for --seconds, while one persistent psql session polls the rollup for the
probe tenants every --poll-ms. Prints p50/p90/p99/max of (first seen - POST sent) in ms as JSON,
and the same split at the 202 (ack_*: ingest durability; after_ack_*: Kinesis to rollup).
Environment: DATABASE_URL, TP_INGEST_URL, TP_SERVICE_TOKEN (a stack.env).
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=20)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--poll-ms", type=float, default=20)
    p.add_argument("--prefix", default="bf" + uuid.uuid4().hex[:8])
    a = p.parse_args()
    url = os.environ["TP_INGEST_URL"] + "/v1/events"
    token = os.environ["TP_SERVICE_TOKEN"]

    sent = {}
    acked = {}  # tenant -> seconds from POST to its 202 (durable in Kinesis or the spool)
    seen = {}
    done = threading.Event()

    def poller():
        ps = subprocess.Popen(["psql", os.environ["DATABASE_URL"], "-X", "-q", "-A", "-t"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, bufsize=1)
        q = (f"SELECT tenant_id FROM rollup.tenant_hourly WHERE tenant_id LIKE '{a.prefix}%' "
             f"AND tenant_id NOT IN (SELECT unnest('{{}}'::text[]));\n\\echo __END__\n")
        while not done.is_set() or len(seen) < len(sent):
            ps.stdin.write(q)
            ps.stdin.flush()
            now = time.time()
            while True:
                line = ps.stdout.readline().strip()
                if line == "__END__":
                    break
                if line and line not in seen:
                    seen[line] = now
            if done.is_set() and time.time() > done.deadline:
                break
            time.sleep(a.poll_ms / 1000.0)
        ps.stdin.close()
        ps.wait()

    t = threading.Thread(target=poller)
    t.start()
    n = int(a.rate * a.seconds)
    start = time.time()
    for i in range(n):
        target = start + i / a.rate
        delay = target - time.time()
        if delay > 0:
            time.sleep(delay)
        tenant = f"{a.prefix}{i:05d}"
        ev = {"event_id": str(uuid.uuid4()), "type": "user.login", "tenant_id": tenant, "user_id": "u1",
              "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        req = urllib.request.Request(url, data=json.dumps(ev).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        sent[tenant] = time.time()
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
        acked[tenant] = time.time() - sent[tenant]
    done.deadline = time.time() + 30
    done.set()
    t.join()
    lat = sorted((seen[k] - v) * 1000 for k, v in sent.items() if k in seen)
    missing = len(sent) - len(lat)

    def pct(v, q):
        return round(v[min(len(v) - 1, int(q * len(v)))], 1) if v else None

    ack = sorted(v * 1000 for v in acked.values())
    # After the 202: Kinesis → processor → PostgreSQL → the poller, without the producer's part.
    after = sorted((seen[k] - sent[k] - acked[k]) * 1000 for k in sent if k in seen and k in acked)
    print(json.dumps({"probes": len(sent), "missing": missing, "p50_ms": pct(lat, 0.50), "p90_ms": pct(lat, 0.90),
                      "p99_ms": pct(lat, 0.99), "max_ms": round(lat[-1], 1) if lat else None,
                      "ack_p50_ms": pct(ack, 0.50), "ack_p99_ms": pct(ack, 0.99),
                      "after_ack_p50_ms": pct(after, 0.50), "after_ack_p99_ms": pct(after, 0.99),
                      "poll_ms": a.poll_ms}))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
