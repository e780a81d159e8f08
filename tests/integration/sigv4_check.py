#!/usr/bin/python3
"""sigv4_check.py — prove the SigV4 signatures our clients send are right.

Neither local emulator verifies signatures, so this script stands in for AWS: it runs a capturing
HTTP listener on 127.0.0.1, points tp-s3 and tp-kinesis at it (with a session token, a non-default
region, a key and a query string that need encoding, and request bodies), and then recomputes
every signature independently with botocore's SigV4Auth / S3SigV4Auth over the captured method,
URL, headers and body. It fails unless each Authorization header curl produced matches, and it
also checks that a tampered request does NOT match (so the comparison can fail).

Run with Debian's /usr/bin/python3 (python3-botocore). Usage: sigv4_check.py BUILD_DIR
"""
import hashlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
from urllib.parse import parse_qsl, quote, urlsplit

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDEXAMPLEB0000001"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEXAMPLE//token+with/odd=chars"
REGION = "eu-west-3"
BUCKET = "sigv4-bucket"
KEY = "tenant=a b/ü.json"
PREFIX = "tenant=a b/ü&x=1+2"

captured = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        captured.append({"method": self.command, "path": self.path,
                         "headers": [(k, v) for k, v in self.headers.items()], "body": body})
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".PutRecords"):
            recs = json.loads(body)["Records"]
            out = json.dumps({"FailedRecordCount": 0, "Records": [
                {"SequenceNumber": str(1000 + i), "ShardId": "shardId-000000000000"}
                for i in range(len(recs))]}).encode()
            ctype = "application/x-amz-json-1.1"
        elif self.command == "GET" and "list-type=2" in self.path:
            out = (b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
                   b"<IsTruncated>false</IsTruncated></ListBucketResult>")
            ctype = "application/xml"
        else:
            out, ctype = b"", "text/plain"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_PUT = do_POST = do_DELETE = _handle


def signature_of(req, service, tamper=None):
    """Recompute the signature of a captured request with botocore."""
    auth_hdr = dict((k.lower(), v) for k, v in req["headers"])["authorization"]
    parts = dict(p.strip().split("=", 1) for p in auth_hdr.split(" ", 1)[1].split(","))
    signed = parts["SignedHeaders"].split(";")
    hdrs = {}
    for k, v in req["headers"]:
        if k.lower() in signed:
            hdrs[k.lower()] = v
    if tamper:
        tamper(hdrs)
    split = urlsplit(req["path"])
    aws_req = AWSRequest(method=req["method"], url="http://" + hdrs["host"] + split.path, data=req["body"],
                         headers=hdrs)
    # Let botocore encode the query itself from the decoded pairs, independently of our encoder.
    aws_req.params = parse_qsl(split.query, keep_blank_values=True)
    aws_req.context["timestamp"] = hdrs["x-amz-date"]
    creds = Credentials(ACCESS_KEY, SECRET_KEY, TOKEN)
    auth = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, REGION)
    canonical = auth.canonical_request(aws_req)
    sts = auth.string_to_sign(aws_req, canonical)
    return parts, auth.signature(sts, aws_req), auth.signed_headers(auth.headers_to_sign(aws_req))


def fail(msg):
    print("sigv4_check: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    build = sys.argv[1]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % srv.server_address[1]
    env = dict(os.environ, AWS_REGION=REGION, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_SESSION_TOKEN=TOKEN, AWS_ENDPOINT_URL_S3=url, AWS_ENDPOINT_URL_KINESIS=url)
    env.pop("AWS_ENDPOINT_URL", None)
    s3 = os.path.join(build, "tools/kinesis-cli/tp-s3")
    kin = os.path.join(build, "tools/kinesis-cli/tp-kinesis")
    with tempfile.NamedTemporaryFile() as f:
        f.write(b'{"hello": "w\xc3\xb6rld"}\n')
        f.flush()
        runs = [
            ("s3", [s3, "put", BUCKET, KEY, f.name, "--content-type", "application/json"]),
            ("s3", [s3, "ls", BUCKET, "--prefix", PREFIX, "--page-size", "2"]),
            ("s3", [s3, "get", BUCKET, KEY]),
            ("kinesis", [kin, "put", "sigv4-stream", "pkey ü", '{"n":1}', "p2", "plain data"]),
        ]
        services = []
        for service, cmd in runs:
            before = len(captured)
            r = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
            if r.returncode != 0:
                fail("%s exited %d: %s" % (cmd, r.returncode, r.stderr.decode(errors="replace")))
            services += [service] * (len(captured) - before)
    srv.shutdown()
    if len(captured) != len(runs):
        fail("expected %d requests, captured %d" % (len(runs), len(captured)))

    # What the clients must have sent, derived here independently of our encoder.
    want_path = "/%s/%s" % (BUCKET, quote(KEY, safe="/~"))
    if captured[0]["path"] != want_path:
        fail("PutObject path %r, expected %r" % (captured[0]["path"], want_path))
    if captured[0]["method"] != "PUT" or not captured[0]["body"]:
        fail("PutObject did not PUT a body")
    q = dict(parse_qsl(urlsplit(captured[1]["path"]).query))
    if q.get("prefix") != PREFIX or q.get("list-type") != "2" or q.get("max-keys") != "2":
        fail("ListObjectsV2 query decoded to %r" % q)

    for req, service in zip(captured, services):
        h = dict((k.lower(), v) for k, v in req["headers"])
        what = "%s %s" % (req["method"], req["path"])
        if h.get("x-amz-content-sha256") != hashlib.sha256(req["body"]).hexdigest():
            fail("%s: x-amz-content-sha256 is not the SHA-256 of the body" % what)
        if h.get("x-amz-security-token") != TOKEN:
            fail("%s: session token header missing or wrong" % what)
        parts, sig, signed = signature_of(req, service)
        for must in ("host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"):
            if must not in parts["SignedHeaders"].split(";"):
                fail("%s: %s is not signed" % (what, must))
        if req["body"] and "content-type" not in parts["SignedHeaders"].split(";"):
            fail("%s: content-type is not signed" % what)
        scope = parts["Credential"].split("/")
        if scope[0] != ACCESS_KEY or scope[2:] != [REGION, service, "aws4_request"]:
            fail("%s: credential scope %r" % (what, scope))
        if parts["SignedHeaders"] != signed:
            fail("%s: SignedHeaders %s, botocore %s" % (what, parts["SignedHeaders"], signed))
        if parts["Signature"] != sig:
            fail("%s: signature %s, botocore computes %s" % (what, parts["Signature"], sig))
        # The comparison must be able to fail: change one signed header and expect a mismatch.
        _, bad, _ = signature_of(req, service, tamper=lambda hd: hd.update({"x-amz-date": "20000101T000000Z"}))
        if bad == parts["Signature"]:
            fail("%s: a tampered request still matches; the check is vacuous" % what)
        print("sigv4_check: ok %-7s %s" % (service, what))
    print("sigv4_check: %d signatures verified with botocore" % len(captured))


if __name__ == "__main__":
    main()
