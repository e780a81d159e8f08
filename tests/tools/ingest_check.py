#!/usr/bin/env python3
"""ingest_check.py — helpers for the ingest integration tests (standard library only).

  ingest_check.py synth --seed N --per-type K > events.ndjson
      K valid events of every one of the 14 event types (all three streams), deterministic.
  ingest_check.py post --url URL --token T --events FILE --acked FILE [--batch 100]
                       [--concurrency 4] [--pace EVENTS_PER_S] [--retry-for SECONDS]
      POST the events in batches to URL/v1/events. A batch answered 202 is acknowledged: its
      events are appended to --acked (one write, then fsync, per batch, so a crash or kill of
      this process or of the server never leaves an acknowledged event out of the file). A 503
      (Retry-After) or a connection error is retried with the same events until --retry-for
      seconds have passed without any success. Prints a JSON summary; exit 1 if some batch was
      never acknowledged. Writes progress counters to --progress FILE if given.
  ingest_check.py keepalive --url URL [--connections 16] [--seconds 30]
      Keeps N connections alive, each posting a small body to URL/v1/events without a key as
      fast as answers come (401s, costing the server no Kinesis work), until the server stops
      answering or SECONDS pass: a stop then finds requests arriving on kept-alive connections.
      Prints the count of answers by status as JSON.
  ingest_check.py compare --expect FILE --dump DIR [--exact]
      DIR holds tp-kinesis dumps (<stream>.ndjson). Every event in --expect must be in the
      stream of its type, under the partition key event.h prescribes, with equal JSON. Copies
      beyond the first are duplicates (reported, allowed: consumers dedupe by event_id) but must
      be identical (same JSON, stream and key), or a consumer could not dedupe them.
      When the dump holds the records' text (the independent reader's), each must also be the
      sent line byte for byte, less whitespace outside strings.
      Prints a JSON summary; exit 1 on any missing / different / misplaced / not verbatim event.
  ingest_check.py wait-drain --url URL [--timeout 120]
      Poll URL/metrics until tp_ingest_spool_entries is 0; exit 1 on timeout.
  ingest_check.py read --out DIR [--streams tenants,users,jobs]
      An independent reader (not the project's C code): reads every shard from TRIM_HORIZON
      with SigV4-signed GetRecords (AWS_ENDPOINT_URL_KINESIS, AWS_REGION, AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY), decodes KPL aggregated records itself (magic, protobuf, MD5) and
      writes <stream>.ndjson in tp-kinesis dump's shape. Also checks that every user record of an
      aggregate has a partition key whose hash lies in the range of the shard the aggregate is
      on. Prints a JSON summary; exit 1 on a corrupt aggregate or a key on the wrong shard.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

TYPES = {
    "tenant.created": "tenants", "tenant.updated": "tenants", "tenant.closed": "tenants",
    "user.added": "users", "user.deleted": "users", "user.login": "users", "user.logoff": "users",
    "user.session_timeout": "users", "dataset.created": "users", "dataset.updated": "users",
    "dataset.deleted": "users", "job.submitted": "jobs", "job.terminated": "jobs", "job.cancelled": "jobs",
}


def has_user(t):
    return not t.startswith("tenant.")


def partition_key(ev):
    return f"{ev['tenant_id']}:{ev['user_id']}" if has_user(ev["type"]) else ev["tenant_id"]


def attrs(t, rng, i):
    pad = "x" * rng.randrange(0, 120)
    return {
        # Decimals a re-serialiser would rewrite (0.137 → 0.13700000000000001) and an escaped
        # "é" (json.dumps writes \u00e9): the stored bytes must still be the sent ones.
        "tenant.created": {"company_name": f"Café {i} {pad}", "industry": "retail",
                           "sentiment": round(rng.uniform(-1, 1), 3),
                           "plan": rng.choice(["free", "starter", "business", "enterprise"])},
        "tenant.updated": {"plan": "enterprise", "sentiment": -0.25},
        "tenant.closed": {"reason": f"churned {pad}"},
        "user.added": {"role": "analyst"},
        "user.deleted": {"reason": f"left {pad}"},
        "user.login": {"session_id": f"s-{i}"},
        "user.logoff": {"session_id": f"s-{i}", "session_seconds": rng.randrange(0, 7200)},
        "user.session_timeout": {"session_id": f"s-{i}", "session_seconds": 1800},
        "dataset.created": {"dataset_id": f"d-{i % 50}", "size_bytes": rng.randrange(0, 10**12)},
        "dataset.updated": {"dataset_id": f"d-{i % 50}", "size_bytes": rng.randrange(0, 10**12)},
        "dataset.deleted": {"dataset_id": f"d-{i % 50}", "size_bytes": 0},
        "job.submitted": {"job_id": f"j-{i}", "servers": rng.randrange(1, 200),
                          "data_size_bytes": rng.randrange(0, 10**12)},
        "job.terminated": {"job_id": f"j-{i}", "status": rng.choice(["succeeded", "failed"]),
                           "duration_seconds": rng.randrange(0, 86400) + 0.5},
        "job.cancelled": {"job_id": f"j-{i}"},
    }[t]


def cmd_synth(a):
    rng = random.Random(a.seed)
    i = 0
    out = sys.stdout
    for k in range(a.per_type):
        for t in TYPES:
            tenant = f"it-{a.seed % 1000}-t{rng.randrange(0, 5)}"
            ev = {"event_id": "%08x-%04x-4%03x-a%03x-%012x" % (a.seed & 0xffffffff, (i >> 24) & 0xffff,
                                                               (i >> 12) & 0xfff, i & 0xfff,
                                                               rng.getrandbits(48)),
                  "type": t, "tenant_id": tenant}
            if has_user(t):
                ev["user_id"] = f"u{rng.randrange(0, 40)}"
            ev["occurred_at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1767225600 + i)) + ".000Z"
            ev["attributes"] = attrs(t, rng, i)
            # Every other event with spaces after ":" and ",", which ingest-api drops.
            out.write(json.dumps(ev, separators=(",", ":") if i % 2 else (", ", ": ")) + "\n")
            i += 1
    return 0


class Poster:
    def __init__(self, a, batches):
        self.a = a
        self.batches = batches
        self.next = 0
        self.lock = threading.Lock()
        self.acked_fd = os.open(a.acked, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.stats = {"batches": len(batches), "acked_batches": 0, "acked_events": 0, "failed_batches": 0,
                      "http_503": 0, "conn_errors": 0, "other_errors": 0, "rejected_events": 0}
        self.last_success = time.monotonic()
        self.t0 = time.monotonic()

    def take(self):
        with self.lock:
            if self.next >= len(self.batches):
                return None
            i = self.next
            self.next += 1
            return i

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n
            if self.a.progress:
                with open(self.a.progress + ".tmp", "w") as f:
                    json.dump(self.stats, f)
                os.replace(self.a.progress + ".tmp", self.a.progress)

    def send(self, lines):
        body = ("\n".join(lines) + "\n").encode()
        req = urllib.request.Request(self.a.url.rstrip("/") + "/v1/events", data=body, method="POST",
                                     headers={"Content-Type": "application/x-ndjson",
                                              "Authorization": "Bearer " + self.a.token})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read(), None
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Retry-After")
        except (urllib.error.URLError, OSError, ConnectionError) as e:
            return 0, str(e).encode(), None

    def worker(self):
        while True:
            i = self.take()
            if i is None:
                return
            if self.a.pace:
                due = self.t0 + i * self.a.batch / self.a.pace
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            lines = self.batches[i]
            while True:
                status, body, retry_after = self.send(lines)
                if status == 202:
                    ans = json.loads(body)
                    rejected = {r.get("index") for r in ans.get("rejected", [])}
                    keep = [ln for k, ln in enumerate(lines) if k not in rejected]
                    data = ("\n".join(keep) + "\n").encode() if keep else b""
                    with self.lock:  # whole batches, durable before we count them
                        os.write(self.acked_fd, data)
                        os.fsync(self.acked_fd)
                        self.last_success = time.monotonic()
                    self.count("acked_batches")
                    self.count("acked_events", len(keep))
                    self.count("rejected_events", len(rejected))
                    break
                self.count("http_503" if status == 503 else "conn_errors" if status == 0 else "other_errors")
                if status not in (0, 503, 502, 504):
                    sys.stderr.write(f"post: HTTP {status}: {body[:300]!r}\n")
                with self.lock:
                    stalled = time.monotonic() - self.last_success
                if stalled > self.a.retry_for:
                    self.count("failed_batches")
                    break
                time.sleep(min(float(retry_after or 0.2), 2.0))


def cmd_post(a):
    with open(a.events) as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    batches = [lines[i:i + a.batch] for i in range(0, len(lines), a.batch)]
    p = Poster(a, batches)
    threads = [threading.Thread(target=p.worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.close(p.acked_fd)
    p.stats["seconds"] = round(time.monotonic() - p.t0, 3)
    print(json.dumps(p.stats))
    return 1 if p.stats["failed_batches"] else 0


in_aggregates = set()  # event ids seen inside a KPL aggregate (sub > 0, or the reader says so)
conflicting = set()  # event ids stored twice with different content, stream or key


raw_text = {}  # event_id -> the record's bytes as stored, when the reader kept them (not parsed)


def compact(text):
    """The JSON text without whitespace outside strings: what ingest-api stores of an event."""
    out, in_str, esc = [], False, False
    for c in text:
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in " \t\r\n":
            continue
        out.append(c)
    return "".join(out)


def load_dump(d):
    store = {}  # event_id -> (stream, pkey, event, copies)
    lines = 0
    for name in sorted(os.listdir(d)):
        if not name.endswith(".ndjson"):
            continue
        with open(os.path.join(d, name)) as f:
            for ln in f:
                if not ln.strip():
                    continue
                lines += 1
                rec = json.loads(ln)
                if "data" not in rec:
                    continue
                ev = rec["data"]
                raw = ev if isinstance(ev, str) else None
                if isinstance(ev, str):  # a JSON text (our reader) or already parsed (tp-kinesis dump)
                    try:
                        ev = json.loads(ev)
                    except ValueError:
                        continue
                eid = ev.get("event_id") if isinstance(ev, dict) else None
                if not eid:
                    continue
                if eid in store:
                    s = store[eid]
                    store[eid] = (s[0], s[1], s[2], s[3] + 1)
                    if s[2] != ev or s[0] != rec.get("stream", name[:-7]) or s[1] != rec.get("partition_key"):
                        conflicting.add(eid)  # a copy a consumer could not dedupe by event_id
                else:
                    store[eid] = (rec.get("stream", name[:-7]), rec.get("partition_key"), ev, 1)
                    if raw is not None:
                        raw_text[eid] = raw
                    if rec.get("aggregated") or rec.get("sub", 0) > 0:
                        in_aggregates.add(eid)
    return store, lines


def cmd_keepalive(a):
    u = urllib.parse.urlsplit(a.url)
    counts = {}
    lock = threading.Lock()
    end = time.monotonic() + a.seconds
    body = b'{"event_id":"00000000-0000-4000-8000-000000000000","type":"user.login"}'

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        while time.monotonic() < end:
            try:
                conn.request("POST", "/v1/events", body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                st = r.status
            except (OSError, http.client.HTTPException):
                st = 0
            with lock:
                counts[st] = counts.get(st, 0) + 1
            if st != 401:
                break
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(a.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({str(k): v for k, v in sorted(counts.items())}))
    return 0


def cmd_compare(a):
    store, lines = load_dump(a.dump)
    res = {"dump_records": lines, "stored_events": len(store), "expected": 0, "found": 0, "missing": 0,
           "different": 0, "misplaced": 0, "duplicated_events": 0, "duplicate_copies": 0,
           "in_aggregates": 0, "conflicting_copies": 0, "verbatim_checked": 0, "not_verbatim": 0}
    seen = set()
    with open(a.expect) as f:
        for ln in f:
            if not ln.strip():
                continue
            ev = json.loads(ln)
            eid = ev["event_id"]
            if eid in seen:
                continue
            seen.add(eid)
            res["expected"] += 1
            s = store.get(eid)
            if s is None:
                res["missing"] += 1
                if res["missing"] <= 10:
                    sys.stderr.write(f"compare: MISSING {eid} ({ev['type']})\n")
                continue
            stream, pkey, stored, copies = s
            if eid in raw_text and raw_text[eid] != compact(ln.strip()):
                # Equal JSON is not enough: numbers and escapes must stay exactly as sent.
                res["not_verbatim"] += 1
                if res["not_verbatim"] <= 10:
                    sys.stderr.write(f"compare: NOT VERBATIM {eid}: sent {ln.strip()} stored {raw_text[eid]}\n")
            if stored != ev:
                res["different"] += 1
                if res["different"] <= 10:
                    sys.stderr.write(f"compare: DIFFERENT {eid}: sent {json.dumps(ev)} stored {json.dumps(stored)}\n")
            elif stream != TYPES[ev["type"]] or pkey != partition_key(ev):
                res["misplaced"] += 1
                if res["misplaced"] <= 10:
                    sys.stderr.write(f"compare: MISPLACED {eid}: stream {stream} key {pkey}\n")
            else:
                res["found"] += 1
                res["in_aggregates"] += eid in in_aggregates
            if copies > 1:
                res["duplicated_events"] += 1
                res["duplicate_copies"] += copies - 1
            if eid in conflicting:
                res["conflicting_copies"] += 1
                if res["conflicting_copies"] <= 10:
                    sys.stderr.write(f"compare: CONFLICTING COPIES of {eid}\n")
    res["verbatim_checked"] = sum(1 for e in seen if e in raw_text)
    print(json.dumps(res))
    bad = res["missing"] or res["different"] or res["misplaced"] or res["conflicting_copies"] or res["not_verbatim"]
    if a.exact and res["duplicate_copies"]:
        bad = True
    return 1 if bad else 0


def spool_entries(url):
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10) as r:
        for ln in r.read().decode().splitlines():
            if ln.startswith("tp_ingest_spool_entries"):
                return float(ln.split()[-1])
    return None


def cmd_wait_drain(a):
    deadline = time.monotonic() + a.timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = spool_entries(a.url)
            if last == 0:
                print(json.dumps({"spool_entries": 0}))
                return 0
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    print(json.dumps({"spool_entries": last, "timeout": True}))
    return 1


# --- an independent Kinesis reader and KPL decoder ---

KPL_MAGIC = bytes([0xF3, 0x89, 0x9A, 0xC2])


class Kinesis:
    def __init__(self):
        self.endpoint = (os.environ.get("AWS_ENDPOINT_URL_KINESIS") or os.environ["AWS_ENDPOINT_URL"]).rstrip("/")
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.key = os.environ["AWS_ACCESS_KEY_ID"]
        self.secret = os.environ["AWS_SECRET_ACCESS_KEY"]

    def sign(self, body, target, host):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload_hash = hashlib.sha256(body).hexdigest()
        headers = {"content-type": "application/x-amz-json-1.1", "host": host, "x-amz-date": amz_date,
                   "x-amz-target": target}
        signed = ";".join(sorted(headers))
        canonical = "\n".join(["POST", "/", "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed,
                               payload_hash])
        scope = f"{day}/{self.region}/kinesis/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (day, self.region, "kinesis", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={self.key}/{scope}, SignedHeaders={signed}, Signature={sig}"
        return headers

    def call(self, op, req, attempts=40):
        body = json.dumps(req).encode()
        host = urllib.parse.urlparse(self.endpoint).netloc
        for i in range(attempts):
            headers = self.sign(body, "Kinesis_20131202." + op, host)
            r = urllib.request.Request(self.endpoint + "/", data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(r, timeout=30) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:
                text = e.read().decode(errors="replace")
                if e.code < 500 and "Throughput" not in text and "LimitExceeded" not in text:
                    raise RuntimeError(f"{op}: HTTP {e.code}: {text}")
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(min(0.2 * (i + 1), 2))
        raise RuntimeError(f"{op}: no answer after {attempts} attempts")


def varint(b, i):
    v = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def fields(b):
    """(field number, wire type, value) of one protobuf message; bytes for length-delimited."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            if i + n > len(b):
                raise ValueError("truncated field")
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, wt, v


def deaggregate(data, outer_pkey):
    """[(pkey, bytes)] of a Kinesis record; raises ValueError on a corrupt aggregate."""
    if not data.startswith(KPL_MAGIC) or len(data) < 4 + 16:
        return [(outer_pkey, data)], False
    pb, digest = data[4:-16], data[-16:]
    if hashlib.md5(pb).digest() != digest:
        raise ValueError("MD5 mismatch")
    keys, recs = [], []
    for num, wt, v in fields(pb):
        if num == 1 and wt == 2:
            keys.append(v.decode())
        elif num == 3 and wt == 2:
            idx, payload = None, None
            for rn, rwt, rv in fields(v):
                if rn == 1 and rwt == 0:
                    idx = rv
                elif rn == 3 and rwt == 2:
                    payload = rv
            if idx is None or payload is None or idx >= len(keys):
                raise ValueError("record without key index or data")
            recs.append((keys[idx], payload))
    return recs, True


def cmd_read(a):
    k = Kinesis()
    os.makedirs(a.out, exist_ok=True)
    res = {"kinesis_records": 0, "aggregated_records": 0, "user_records": 0, "corrupt": 0, "keys_on_wrong_shard": 0}
    for stream in a.streams.split(","):
        shards, token = [], None
        while True:
            ans = k.call("ListShards", {"NextToken": token} if token else {"StreamName": stream})
            shards += ans.get("Shards", [])
            token = ans.get("NextToken")
            if not token:
                break
        with open(os.path.join(a.out, stream + ".ndjson"), "w") as out:
            for sh in shards:
                lo, hi = int(sh["HashKeyRange"]["StartingHashKey"]), int(sh["HashKeyRange"]["EndingHashKey"])
                it = k.call("GetShardIterator", {"StreamName": stream, "ShardId": sh["ShardId"],
                                                 "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
                empty = 0
                while it:
                    ans = k.call("GetRecords", {"ShardIterator": it, "Limit": 500})
                    recs = ans.get("Records", [])
                    for r in recs:
                        res["kinesis_records"] += 1
                        data = base64.b64decode(r["Data"])
                        try:
                            users, agg = deaggregate(data, r["PartitionKey"])
                        except ValueError as e:
                            res["corrupt"] += 1
                            sys.stderr.write(f"read: corrupt aggregate {stream}/{sh['ShardId']}/{r['SequenceNumber']}: {e}\n")
                            continue
                        res["aggregated_records"] += agg
                        for sub, (pkey, payload) in enumerate(users):
                            res["user_records"] += 1
                            h = int.from_bytes(hashlib.md5(pkey.encode()).digest(), "big")
                            if agg and not lo <= h <= hi:
                                res["keys_on_wrong_shard"] += 1
                            line = {"stream": stream, "shard": sh["ShardId"], "sequence": r["SequenceNumber"],
                                    "sub": sub, "partition_key": pkey, "aggregated": agg}
                            try:
                                line["data"] = payload.decode()
                            except UnicodeDecodeError:
                                line["data_b64"] = base64.b64encode(payload).decode()
                            out.write(json.dumps(line, separators=(",", ":")) + "\n")
                    it = ans.get("NextShardIterator")
                    if not recs and ans.get("MillisBehindLatest", 0) == 0:
                        empty += 1
                        if empty >= 2:
                            break
                    else:
                        empty = 0
    print(json.dumps(res))
    return 1 if res["corrupt"] or res["keys_on_wrong_shard"] else 0


def main():
    ap = argparse.ArgumentParser(description="ingest integration test helpers")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("synth")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--per-type", type=int, default=10)
    p = sub.add_parser("post")
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--acked", required=True)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--pace", type=float, default=0)
    p.add_argument("--retry-for", type=float, default=60)
    p.add_argument("--progress")
    k = sub.add_parser("keepalive")
    k.add_argument("--url", required=True)
    k.add_argument("--connections", type=int, default=16)
    k.add_argument("--seconds", type=float, default=30)
    c = sub.add_parser("compare")
    c.add_argument("--expect", required=True)
    c.add_argument("--dump", required=True)
    c.add_argument("--exact", action="store_true")
    w = sub.add_parser("wait-drain")
    w.add_argument("--url", required=True)
    w.add_argument("--timeout", type=float, default=120)
    r = sub.add_parser("read")
    r.add_argument("--out", required=True)
    r.add_argument("--streams", default="tenants,users,jobs")
    a = ap.parse_args()
    return {"read": cmd_read, "synth": cmd_synth, "post": cmd_post, "compare": cmd_compare, "wait-drain": cmd_wait_drain,
            "keepalive": cmd_keepalive}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
