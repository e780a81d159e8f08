#!/usr/bin/env python3
"""processor_check.py — helpers for the stream processor's integration tests.

  prepare  --events IN --out OUT --salt S        give every event a fresh event_id (uuid5 of the old one
                                                 and the salt), so a re-run is new data to the dedupe
  post     --events F --url U --token T [--batch N] [--repost-every K] [--log FILE]
                                                 POST NDJSON batches to ingest-api; every K-th batch is
                                                 sent twice (a producer retry); prints the ids sent twice
  wait     --truth T --prefix P [--timeout S]    until the rollups hold every event of the prefix's tenants
  compare-db --truth T --prefix P                every reporting view row of those tenants == the truth
  compare-s3 --events F --prefix P [--dups FILE] tp-archive-dump output on stdin: every event exactly once
                                                 (twice for the ids in --dups), in its tenant/user/dt/hour

DATABASE_URL comes from the environment (psql). Exit 0 when all is well, 1 with the differences.
"""
import argparse
import collections
import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid


def die(msg):
    print(f"processor_check: {msg}", file=sys.stderr)
    sys.exit(1)


def psql_rows(sql):
    env = dict(os.environ, PGTZ="UTC")
    out = subprocess.run(["psql", os.environ["DATABASE_URL"], "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1",
                          "-c", sql], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        die(f"psql failed: {out.stderr.strip()}")
    return list(csv.DictReader(io.StringIO(out.stdout)))


def ms_of(s):
    """RFC 3339 / PostgreSQL timestamptz text (UTC) -> epoch ms; None for empty/null."""
    if s is None or s == "":
        return None
    s = s.strip().replace(" ", "T")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    if s.endswith("+00"):
        s = s + ":00"
    return int(round(dt.datetime.fromisoformat(s).timestamp() * 1000))


def read_ndjson(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


COUNTERS = ["logins", "logoffs", "session_timeouts", "sessions", "session_seconds", "dataset_actions",
            "datasets_created", "datasets_updated", "datasets_deleted", "jobs_submitted", "jobs_terminated",
            "jobs_succeeded", "jobs_failed", "jobs_cancelled", "servers_used", "job_data_bytes", "active_users",
            "users_added", "users_deleted", "events"]
JOB_COUNTERS = ["jobs_submitted", "jobs_terminated", "jobs_succeeded", "jobs_failed", "jobs_cancelled",
                "servers_used", "job_data_bytes"]


def cmd_prepare(a):
    ns = uuid.uuid5(uuid.NAMESPACE_URL, "tenantpulse-test/" + a.salt)
    n = 0
    with open(a.events) as f, open(a.out, "w") as o:
        for line in f:
            if not line.strip():
                continue
            ev = json.loads(line)
            if isinstance(ev.get("event_id"), str):
                ev["event_id"] = str(uuid.uuid5(ns, ev["event_id"]))
            o.write(json.dumps(ev, separators=(",", ":")) + "\n")
            n += 1
    print(f"prepared {n} events")


def post(url, token, body):
    req = urllib.request.Request(url + "/v1/events", data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/x-ndjson",
                                          "Authorization": "Bearer " + token})
    for attempt in range(30):
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                res = json.loads(r.read() or b"{}")
                if res.get("rejected"):
                    die(f"ingest rejected events: {res['rejected'][:3]}")
                return
        except urllib.error.HTTPError as e:
            if e.code in (429, 503):
                time.sleep(0.5 + attempt * 0.2)
                continue
            die(f"POST answered {e.code}: {e.read()[:300]!r}")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            time.sleep(0.5 + attempt * 0.2)
            last = e
    die(f"POST kept failing: {last}")


def cmd_post(a):
    lines = [l for l in open(a.events) if l.strip()]
    dups = []
    for i in range(0, len(lines), a.batch):
        chunk = lines[i:i + a.batch]
        body = "".join(chunk)
        post(a.url, a.token, body)
        if a.repost_every and (i // a.batch) % a.repost_every == a.repost_every - 1:
            post(a.url, a.token, body)  # the same events again: a producer retry after a lost answer
            dups.extend(json.loads(l)["event_id"] for l in chunk)
        if a.pause_ms:
            time.sleep(a.pause_ms / 1000.0)
    if a.dups_out:
        with open(a.dups_out, "w") as f:
            f.write("".join(d + "\n" for d in dups))
    print(f"posted {len(lines)} events ({len(dups)} twice)")


def truth_of(path, prefix):
    hours, days, tenants = {}, {}, {}
    for r in read_ndjson(path):
        if r.get("kind") == "hour" and r["tenant_id"].startswith(prefix):
            hours[(r["tenant_id"], ms_of(r["hour"]))] = r
        elif r.get("kind") == "day" and r["tenant_id"].startswith(prefix):
            days[(r["tenant_id"], r["day"])] = r
        elif r.get("kind") == "tenant" and r["tenant_id"].startswith(prefix):
            tenants[r["tenant_id"]] = r
    return hours, days, tenants


def like(prefix):
    if not all(c.isalnum() or c in "._-" for c in prefix):
        die(f"unsafe prefix {prefix!r}")
    return prefix.replace("_", "\\_") + "%"


def cmd_wait(a):
    _, _, tenants = truth_of(a.truth, a.prefix)
    want = sum(t["events"] for t in tenants.values())
    deadline = time.time() + a.timeout
    got = -1
    while time.time() < deadline:
        # Every valid event counts once in its tenant's hourly row, whatever its stream.
        rows = psql_rows(f"SELECT coalesce(sum(events), 0) AS n FROM rollup.tenant_hourly "
                         f"WHERE tenant_id LIKE '{like(a.prefix)}'")
        got = int(rows[0]["n"])
        if got == want:
            print(f"rollups hold all {want} events")
            return
        if got > want:
            die(f"rollups hold {got} events, more than the {want} sent")
        time.sleep(1)
    die(f"timed out: rollups hold {got} of {want} events")


def cmp_counters(kind, key, want, got, fields, errors):
    for f in fields:
        w = want.get(f, 0)
        g = got.get(f)
        g = int(g) if g not in (None, "") else None
        if g != w:
            errors.append(f"{kind} {key}: {f} = {g}, truth {w}")


def cmd_compare_db(a):
    hours, days, tenants = truth_of(a.truth, a.prefix)
    if not tenants:
        die("the truth has no tenant of that prefix")
    pat = like(a.prefix)
    errors = []

    got = {(r["tenant_id"], ms_of(r["hour"])): r for r in
           psql_rows(f"SELECT * FROM reporting.tenant_activity_hourly WHERE tenant_id LIKE '{pat}'")}
    for k in sorted(set(hours) | set(got), key=str):
        if k not in got:
            errors.append(f"hour {k}: missing")
        elif k not in hours:
            errors.append(f"hour {k}: not in the truth")
        else:
            cmp_counters("hour", k, hours[k], got[k], COUNTERS, errors)
            if abs(float(got[k]["session_minutes"]) - hours[k]["session_seconds"] / 60.0) > 1e-6:
                errors.append(f"hour {k}: session_minutes {got[k]['session_minutes']}")

    got = {(r["tenant_id"], r["day"]): r for r in
           psql_rows(f"SELECT * FROM reporting.tenant_activity_daily WHERE tenant_id LIKE '{pat}'")}
    for k in sorted(set(days) | set(got)):
        if k not in got:
            errors.append(f"day {k}: missing")
        elif k not in days:
            errors.append(f"day {k}: not in the truth")
        else:
            cmp_counters("day", k, days[k], got[k], COUNTERS, errors)

    jobs = {(r["tenant_id"], r["day"]): r for r in
            psql_rows(f"SELECT * FROM reporting.jobs_daily WHERE tenant_id LIKE '{pat}'")}
    want_jobs = {k: v for k, v in days.items()
                 if v["jobs_submitted"] + v["jobs_terminated"] + v["jobs_cancelled"] > 0}
    for k in sorted(set(want_jobs) | set(jobs)):
        if k not in jobs or k not in want_jobs:
            errors.append(f"jobs_daily {k}: {'missing' if k not in jobs else 'not in the truth'}")
        else:
            cmp_counters("jobs_daily", k, want_jobs[k], jobs[k], JOB_COUNTERS, errors)

    got = {r["tenant_id"]: r for r in psql_rows(f"SELECT * FROM reporting.tenants WHERE tenant_id LIKE '{pat}'")}
    for t in sorted(set(tenants) | set(got)):
        if t not in got or t not in tenants:
            errors.append(f"tenant {t}: {'missing' if t not in got else 'not in the truth'}")
            continue
        w, g = tenants[t], got[t]
        for f in ("company_name", "industry", "plan"):
            if g[f] != w[f]:
                errors.append(f"tenant {t}: {f} = {g[f]!r}, truth {w[f]!r}")
        if abs(float(g["sentiment"] or "nan") - w["sentiment"]) > 1e-9:
            errors.append(f"tenant {t}: sentiment = {g['sentiment']}, truth {w['sentiment']}")
        for f in ("created_at", "closed_at", "last_activity_at"):
            if ms_of(g[f]) != ms_of(w[f]):
                errors.append(f"tenant {t}: {f} = {g[f]}, truth {w[f]}")
        want_status = "closed" if w["closed_at"] else "active"
        if g["status"] != want_status:
            errors.append(f"tenant {t}: status = {g['status']}, truth {want_status}")
        for f in ("user_count", "data_size_bytes"):
            if int(g[f]) != w[f]:
                errors.append(f"tenant {t}: {f} = {g[f]}, truth {w[f]}")

    # Users: the active ones per tenant are the tenant's user_count.
    for r in psql_rows(f"SELECT tenant_id, count(*) FILTER (WHERE status = 'active') AS n FROM reporting.users "
                       f"WHERE tenant_id LIKE '{pat}' GROUP BY 1"):
        if r["tenant_id"] in tenants and int(r["n"]) != tenants[r["tenant_id"]]["user_count"]:
            errors.append(f"users {r['tenant_id']}: {r['n']} active, truth {tenants[r['tenant_id']]['user_count']}")

    # Data size per day: the last day's running size is the tenant's current size.
    last = {}
    for r in psql_rows(f"SELECT * FROM reporting.tenant_data_size_daily WHERE tenant_id LIKE '{pat}' ORDER BY day"):
        last[r["tenant_id"]] = int(r["data_size_bytes"])
    for t, w in tenants.items():
        if last.get(t, 0) != w["data_size_bytes"]:
            errors.append(f"tenant_data_size_daily {t}: ends at {last.get(t)}, truth {w['data_size_bytes']}")

    # Sign-ups. The view is global, and other producers on a shared stack may send tenant.created
    # more than once for one tenant (distinct event ids count as distinct sign-up events), so:
    # the view must equal the per-tenant rollup summed over all tenants, and this run's tenants
    # must hold exactly the truth's tenant.created counts per hour.
    su = {ms_of(r["hour"]): r for r in psql_rows("SELECT * FROM reporting.signups_hourly")}
    allt = collections.defaultdict(lambda: [0, 0])
    for r in psql_rows("SELECT hour, sum(tenants_created) AS c, sum(users_added) AS u FROM rollup.tenant_hourly "
                       "GROUP BY 1 HAVING sum(tenants_created) + sum(users_added) > 0"):
        allt[ms_of(r["hour"])] = [int(r["c"]), int(r["u"])]
    for h in set(allt) | set(su):
        g = su.get(h)
        gv = [int(g["tenants_created"]), int(g["users_added"])] if g else [0, 0]
        if gv != allt[h]:
            errors.append(f"signups_hourly {h}: {gv}, per-tenant rollups say {allt[h]}")
    created = {(r["tenant_id"], ms_of(r["hour"])): int(r["tenants_created"])
               for r in psql_rows(f"SELECT tenant_id, hour, tenants_created FROM rollup.tenant_hourly "
                                  f"WHERE tenant_id LIKE '{pat}' AND tenants_created > 0")}
    for key in set(created) | {k for k, r in hours.items() if r.get("tenants_created")}:
        want = hours[key].get("tenants_created", 0) if key in hours else 0
        if created.get(key, 0) != want:
            errors.append(f"tenants_created {key[0]} {key[1]}: {created.get(key, 0)}, truth {want}")

    if errors:
        print(f"{len(errors)} differences:", file=sys.stderr)
        for e in errors[:60]:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    print(f"rollups exact: {len(hours)} hours, {len(days)} days, {len(tenants)} tenants")


def cmd_compare_s3(a):
    want = {}
    for ev in read_ndjson(a.events):
        if ev["tenant_id"].startswith(a.prefix):
            want[ev["event_id"]] = ev
    twice = set()
    if a.dups:
        twice = {l.strip() for l in open(a.dups) if l.strip()}
    seen = collections.Counter()
    errors = []
    for line in sys.stdin:
        key, _, body = line.rstrip("\n").partition("\t")
        if f"tenant={a.prefix}" not in key:
            continue
        ev = json.loads(body)
        eid = ev.get("event_id")
        seen[eid] += 1
        w = want.get(eid)
        if not w:
            errors.append(f"{key}: event {eid} was never sent")
            continue
        if w != ev:
            errors.append(f"{key}: event {eid} differs from what was sent")
        ts = w["occurred_at"]
        user = w.get("user_id") or "_tenant"
        if f"tenant={w['tenant_id']}/user={user}/dt={ts[:10]}/hour={ts[11:13]}/" not in key:
            errors.append(f"{key}: holds {eid} of {w['tenant_id']}/{user} at {ts}")
    for eid in want:
        n = seen.get(eid, 0)
        expect = 2 if eid in twice else 1
        if n != expect:
            errors.append(f"event {eid}: {n} times in S3, expected {expect}")
    if errors:
        print(f"{len(errors)} archive problems:", file=sys.stderr)
        for e in errors[:40]:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    print(f"archive exact: {len(want)} events, each where it belongs, each once ({len(twice)} sent twice)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("prepare")
    s.add_argument("--events", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--salt", required=True)
    s = sub.add_parser("post")
    s.add_argument("--events", required=True)
    s.add_argument("--url", required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--batch", type=int, default=200)
    s.add_argument("--repost-every", type=int, default=0)
    s.add_argument("--pause-ms", type=int, default=0)
    s.add_argument("--dups-out")
    s = sub.add_parser("wait")
    s.add_argument("--truth", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--timeout", type=float, default=180)
    s = sub.add_parser("compare-db")
    s.add_argument("--truth", required=True)
    s.add_argument("--prefix", required=True)
    s = sub.add_parser("compare-s3")
    s.add_argument("--events", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--dups")
    a = p.parse_args()
    {"prepare": cmd_prepare, "post": cmd_post, "wait": cmd_wait, "compare-db": cmd_compare_db,
     "compare-s3": cmd_compare_s3}[a.cmd](a)


if __name__ == "__main__":
    main()
