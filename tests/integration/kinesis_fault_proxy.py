#!/usr/bin/env python3
"""kinesis_fault_proxy.py — a fault-injecting proxy in front of kinesis-local (stdlib only).

kinesis-local never throttles and never fails part of a PutRecords, so test_aws_clients.sh puts
this proxy between tp-kinesis and the emulator. Everything is forwarded unchanged except
PutRecords, where the partition keys choose the fault:

  fail-pte-*        that entry is not forwarded and comes back with ErrorCode
                    ProvisionedThroughputExceededException (a partial failure, as AWS reports it)
  fail-internal-*   the same with ErrorCode InternalFailure
  throttle-all*     the whole call is answered 400 {"__type": "...#ProvisionedThroughputExceededException"}
  hdr-throttle*     the whole call is answered 400 with only an x-amzn-ErrorType header
  unavail-all*      the whole call is answered 503 ServiceUnavailable

Entries that "fail" are really not stored, so a dump afterwards shows exactly the successes.
Usage: kinesis_fault_proxy.py UPSTREAM_URL PORT_FILE   (listens on 127.0.0.1, port written to PORT_FILE)
"""
import http.client
import http.server
import json
import os
import sys
from urllib.parse import urlsplit

UPSTREAM = urlsplit(sys.argv[1])


def forward(method, path, headers, body):
    conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
    hdrs = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "connection")}
    hdrs["Content-Length"] = str(len(body))
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    out = (r.status, [(k, v) for k, v in r.getheaders() if k.lower() not in ("content-length", "connection",
                                                                           "transfer-encoding")], data)
    conn.close()
    return out


def fail_entry(pkey):
    if pkey.startswith("fail-pte-"):
        return {"ErrorCode": "ProvisionedThroughputExceededException",
                "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream (injected)"}
    if pkey.startswith("fail-internal-"):
        return {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure (injected)"}
    return None


def put_records(headers, body):
    req = json.loads(body)
    keys = [r["PartitionKey"] for r in req["Records"]]
    if any(k.startswith("throttle-all") for k in keys):
        msg = json.dumps({"__type": "com.amazonaws.kinesis#ProvisionedThroughputExceededException",
                          "message": "Rate exceeded (injected)"}).encode()
        return 400, [("Content-Type", "application/x-amz-json-1.1")], msg
    if any(k.startswith("hdr-throttle") for k in keys):
        return 400, [("x-amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/")], b""
    if any(k.startswith("unavail-all") for k in keys):
        msg = json.dumps({"__type": "ServiceUnavailable", "message": "injected"}).encode()
        return 503, [("Content-Type", "application/x-amz-json-1.1")], msg
    faults = [fail_entry(k) for k in keys]
    kept = [r for r, f in zip(req["Records"], faults) if f is None]
    answers = []
    if kept:
        req["Records"] = kept
        status, hdrs, data = forward("POST", "/", headers, json.dumps(req).encode())
        if status != 200:
            return status, hdrs, data
        answers = json.loads(data)["Records"]
    merged, it = [], iter(answers)
    for f in faults:
        merged.append(f if f is not None else next(it))
    out = json.dumps({"FailedRecordCount": sum(f is not None for f in faults), "Records": merged}).encode()
    return 200, [("Content-Type", "application/x-amz-json-1.1")], out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.headers.get("X-Amz-Target", "").endswith(".PutRecords"):
            status, hdrs, data = put_records(self.headers, body)
        else:
            status, hdrs, data = forward("POST", self.path, self.headers, body)
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    srv.serve_forever()


if __name__ == "__main__":
    main()
