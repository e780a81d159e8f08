#!/usr/bin/env python3
"""kinesis_fault_proxy.py — a Kinesis proxy that injects the failures kinesis-local never produces.

    kinesis_fault_proxy.py --listen PORT --upstream http://127.0.0.1:4568 [--mode MODE] [--seed N]

Listens on 127.0.0.1:PORT and forwards every request to the upstream Kinesis. The mode can be
changed at run time with `curl http://127.0.0.1:PORT/__fault?mode=MODE`; counters are at
/__stats (JSON). Modes:

  pass               forward unchanged
  partial:RATE       PutRecords: each record fails with ProvisionedThroughputExceededException
                     with probability RATE and is NOT forwarded; the others are; the answer
                     merges both in order (a real partial failure)
  throttle           PutRecords answers 400 ProvisionedThroughputExceededException (nothing stored)
  unavailable        every request answers 503 ServiceUnavailable
  drop               read the request, close the connection without an answer
  stored-then-drop   forward PutRecords, then close the connection: the records are stored but
                     the caller cannot know, so it must resend (duplicates, never a loss)

Only the standard library; stops on SIGTERM/SIGINT.
"""
import argparse
import http.client
import http.server
import json
import random
import signal
import sys
import threading
import urllib.parse

FORWARD_HEADERS = ("content-type", "x-amz-target", "authorization", "x-amz-date", "x-amz-content-sha256",
                   "x-amz-security-token")


class State:
    def __init__(self, mode, seed):
        self.lock = threading.Lock()
        self.mode = mode
        self.rng = random.Random(seed)
        self.stats = {"requests": 0, "put_records_calls": 0, "records_failed": 0, "records_forwarded": 0,
                      "dropped": 0, "errors_answered": 0}

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None
    upstream = None

    def log_message(self, fmt, *args):  # quiet: the test output is what matters
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/__fault":
            mode = urllib.parse.parse_qs(url.query).get("mode", ["pass"])[0]
            with self.state.lock:
                self.state.mode = mode
            return self.reply(200, {"mode": mode}, "application/json")
        if url.path == "/__stats":
            with self.state.lock:
                body = dict(self.state.stats, mode=self.state.mode)
            return self.reply(200, body, "application/json")
        return self.reply(404, {"message": "not found"}, "application/json")

    def reply(self, status, obj, ctype="application/x-amz-json-1.1"):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        self.state.count("dropped")
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def forward(self, body):
        up = urllib.parse.urlparse(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARD_HEADERS}
        conn.request("POST", self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        ctype = resp.getheader("Content-Type", "application/x-amz-json-1.1")
        conn.close()
        return resp.status, data, ctype

    def send_raw(self, status, data, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.state.count("requests")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        target = self.headers.get("X-Amz-Target", "")
        is_put = target.endswith(".PutRecords")
        with self.state.lock:
            mode = self.state.mode
        if is_put:
            self.state.count("put_records_calls")
        if mode == "unavailable":
            self.state.count("errors_answered")
            return self.reply(503, {"__type": "ServiceUnavailable", "message": "injected"})
        if mode == "drop":
            return self.drop()
        if is_put and mode == "throttle":
            self.state.count("errors_answered")
            return self.reply(400, {"__type": "ProvisionedThroughputExceededException", "message": "injected"})
        if is_put and mode.startswith("partial:"):
            return self.partial(body, float(mode.split(":", 1)[1]))
        try:
            status, data, ctype = self.forward(body)
        except OSError:
            return self.drop()
        if is_put and status == 200:
            self.state.count("records_forwarded", len(json.loads(body).get("Records", [])))
        if is_put and mode == "stored-then-drop":
            return self.drop()
        self.send_raw(status, data, ctype)

    def partial(self, body, rate):
        req = json.loads(body)
        recs = req.get("Records", [])
        with self.state.lock:
            fail = [self.state.rng.random() < rate for _ in recs]
        keep = [r for r, f in zip(recs, fail) if not f]
        results = []
        if keep:
            req["Records"] = keep
            try:
                status, data, ctype = self.forward(json.dumps(req).encode())
            except OSError:
                return self.drop()
            if status != 200:
                return self.send_raw(status, data, ctype)
            results = json.loads(data).get("Records", [])
            self.state.count("records_forwarded", len(keep))
        merged, it, failed = [], iter(results), 0
        for f in fail:
            if f:
                failed += 1
                merged.append({"ErrorCode": "ProvisionedThroughputExceededException",
                               "ErrorMessage": "Rate exceeded for shard (injected)"})
            else:
                merged.append(next(it))
        self.state.count("records_failed", failed)
        self.reply(200, {"FailedRecordCount": failed, "Records": merged, "EncryptionType": "NONE"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--mode", default="pass")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    Handler.state = State(a.mode, a.seed)
    Handler.upstream = a.upstream
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.listen), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
