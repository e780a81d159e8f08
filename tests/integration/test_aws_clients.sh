#!/usr/bin/env bash
# test_aws_clients.sh — the AWS clients against the local stack:
#   1. SigV4: signatures recomputed with botocore over captured requests (sigv4_check.py);
#   2. Kinesis: create (idempotent), put plain + KPL-aggregated records, split a shard, dump back
#      and compare exactly, including per-key order across the split;
#   3. PutRecords partial failures and whole-call throttling through a fault-injecting proxy;
#   4. S3: bucket, an object whose key needs encoding, paginated listing (page size 2), not-found.
# Everything created here has a unique name and is deleted on exit.
set -euo pipefail

: "${TP_STACK_ENV:?TP_STACK_ENV must name the stack env file}"
: "${TP_SOURCE_DIR:?}" "${TP_BUILD_DIR:?}"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"

PY=/usr/bin/python3 # Debian's, which has botocore; everything else here is stdlib
K="$TP_BUILD_DIR/tools/kinesis-cli/tp-kinesis"
S="$TP_BUILD_DIR/tools/kinesis-cli/tp-s3"
HERE="$TP_SOURCE_DIR/tests/integration"
RUN="$$-$(date +%s)"
STREAM="tp-it-aws-$RUN"
BUCKET="tp-it-aws-$RUN"
WORK="$(mktemp -d)"
PROXY_PID=""
STREAM_MADE=0
BUCKET_MADE=0

fail() {
    echo "test_aws_clients: FAIL: $*" >&2
    exit 1
}
step() { echo "test_aws_clients: $*"; }

cleanup() {
    set +e
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    [ "$STREAM_MADE" = 1 ] && "$K" delete-stream "$STREAM" >/dev/null
    if [ "$BUCKET_MADE" = 1 ]; then
        "$S" ls "$BUCKET" 2>/dev/null | jq -r .key | while IFS= read -r key; do "$S" rm "$BUCKET" "$key"; done
        "$S" rb "$BUCKET"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

for b in "$K" "$S"; do [ -x "$b" ] || fail "$b not built"; done
[ -n "${AWS_ENDPOINT_URL_KINESIS:-}" ] || fail "AWS_ENDPOINT_URL_KINESIS not set by $TP_STACK_ENV"
[ -n "${AWS_ENDPOINT_URL_S3:-}" ] || fail "AWS_ENDPOINT_URL_S3 not set by $TP_STACK_ENV"

# --- 1. SigV4 ---------------------------------------------------------------------------------
step "sigv4: recompute signatures with botocore"
"$PY" "$HERE/sigv4_check.py" "$TP_BUILD_DIR" || fail "SigV4 signatures do not match botocore"

# --- 2. Kinesis round trip --------------------------------------------------------------------
step "kinesis: create $STREAM"
"$K" create-streams --shards 2 --retention-hours 24 "$STREAM" >"$WORK/create1.json" || fail "create-streams"
STREAM_MADE=1
jq -e '.status == "ACTIVE" and .created == true and .open_shards == 2' "$WORK/create1.json" >/dev/null ||
    fail "first create-streams: $(cat "$WORK/create1.json")"
"$K" create-streams --shards 2 --retention-hours 24 "$STREAM" >"$WORK/create2.json" || fail "create-streams again"
jq -e '.status == "ACTIVE" and .created == false' "$WORK/create2.json" >/dev/null ||
    fail "create-streams is not idempotent: $(cat "$WORK/create2.json")"

step "kinesis: put plain and aggregated records"
# expected.ndjson: one line per user record we expect dump to return, {"partition_key", "data"|"data_b64"}
: >"$WORK/expected.ndjson"
expect_json() { jq -cn --arg k "$1" --argjson d "$2" '{partition_key: $k, data: $d}' >>"$WORK/expected.ndjson"; }
expect_raw() { jq -cn --arg k "$1" --arg d "$(printf '%s' "$2" | base64 -w0)" '{partition_key: $k, data_b64: $d}' \
    >>"$WORK/expected.ndjson"; }

"$K" put "$STREAM" tenant-1 '{"event":"signup","n":1}' "clé ü" '{"event":"unicode key","s":"żółw"}' \
    bin-1 'not json at all' >"$WORK/put1.json" || fail "put plain: $(cat "$WORK/put1.json")"
[ "$(jq -s 'map(select(.ok)) | length' "$WORK/put1.json")" = 3 ] || fail "put plain results: $(cat "$WORK/put1.json")"
expect_json tenant-1 '{"event":"signup","n":1}'
expect_json "clé ü" '{"event":"unicode key","s":"żółw"}'
expect_raw bin-1 'not json at all'

"$K" put-agg "$STREAM" agg-outer u-1 '{"agg":1}' u-2 '{"agg":2}' u-1 'raw in aggregate' >"$WORK/put2.json" ||
    fail "put-agg: $(cat "$WORK/put2.json")"
expect_json u-1 '{"agg":1}'
expect_json u-2 '{"agg":2}'
expect_raw u-1 'raw in aggregate'

# Per-key order across a split: two records before, three after (they land in the children).
for i in 1 2; do
    "$K" put "$STREAM" order-key "{\"order\":$i}" >/dev/null || fail "put order $i"
    expect_json order-key "{\"order\":$i}"
done
step "kinesis: split shardId-000000000000"
"$K" split-shard "$STREAM" shardId-000000000000 >"$WORK/split.json" || fail "split-shard: $(cat "$WORK/split.json")"
"$K" list-shards "$STREAM" >"$WORK/shards.json" || fail "list-shards"
jq -e 'length == 4 and (map(select(.parent_shard_id == "shardId-000000000000")) | length) == 2
       and (map(select(.shard_id == "shardId-000000000000"))[0].open == false)' "$WORK/shards.json" >/dev/null ||
    fail "shards after split: $(cat "$WORK/shards.json")"
for i in 3 4 5; do
    "$K" put "$STREAM" order-key "{\"order\":$i}" >/dev/null || fail "put order $i"
    expect_json order-key "{\"order\":$i}"
done

step "kinesis: dump and compare"
"$K" dump "$STREAM" --max-idle-ms 2000 >"$WORK/dump1.ndjson" || fail "dump: $(tail -1 "$WORK/dump1.ndjson")"
"$PY" - "$WORK/expected.ndjson" "$WORK/dump1.ndjson" "$STREAM" <<'EOF' || fail "dump differs from what was put"
import collections, json, sys
expected = [json.loads(l) for l in open(sys.argv[1])]
dumped = [json.loads(l) for l in open(sys.argv[2])]
stream = sys.argv[3]
def key(r):
    return json.dumps({k: r[k] for k in ("partition_key", "data", "data_b64") if k in r}, sort_keys=True)
ok = True
for r in dumped:
    if r["stream"] != stream or not r["shard"].startswith("shardId-") or not r["sequence"].isdigit():
        print("bad envelope:", r); ok = False
if collections.Counter(map(key, expected)) != collections.Counter(map(key, dumped)):
    print("expected:", sorted(map(key, expected)), "\ndumped:  ", sorted(map(key, dumped))); ok = False
# The aggregate: three user records sharing one sequence, sub 0..2, in the order they were added.
agg = [r for r in dumped if r["partition_key"] in ("u-1", "u-2")]
if len({r["sequence"] for r in agg}) != 1 or [r["sub"] for r in agg] != [0, 1, 2] or \
        [r["partition_key"] for r in agg] != ["u-1", "u-2", "u-1"]:
    print("aggregate not expanded in order:", agg); ok = False
order = [r["data"]["order"] for r in dumped if r["partition_key"] == "order-key"]
if order != [1, 2, 3, 4, 5]:
    print("per-key order across the split broken:", order); ok = False
# MD5("order-key") < 2^127 - 1, so 1-2 sit in the split parent and 3-5 in a child.
shards = [r["shard"] for r in dumped if r["partition_key"] == "order-key"]
if shards[:2] != ["shardId-000000000000"] * 2 or "shardId-000000000000" in shards[2:]:
    print("order-key records did not span the split:", shards); ok = False
sys.exit(0 if ok else 1)
EOF

# --- 3. partial failures and throttling through the fault proxy -------------------------------
step "kinesis: partial failure / throttling via fault proxy"
"$PY" "$HERE/kinesis_fault_proxy.py" "$AWS_ENDPOINT_URL_KINESIS" "$WORK/proxy.port" &
PROXY_PID=$!
for _ in $(seq 50); do [ -s "$WORK/proxy.port" ] && break; sleep 0.1; done
[ -s "$WORK/proxy.port" ] || fail "fault proxy did not start"
PROXY="http://127.0.0.1:$(cat "$WORK/proxy.port")"

rc=0
AWS_ENDPOINT_URL_KINESIS="$PROXY" "$K" put "$STREAM" ok-a '{"f":1}' fail-pte-b '{"f":2}' ok-c '{"f":3}' \
    fail-internal-d '{"f":4}' >"$WORK/partial.json" || rc=$?
[ "$rc" = 3 ] || fail "partial failure should exit 3, got $rc: $(cat "$WORK/partial.json")"
jq -se '
  length == 4 and
  (.[0].ok and .[0].index == 0 and (.[0].sequence | length) > 0) and
  (.[1].ok == false and .[1].error == "TP_ETHROTTLED" and .[1].error_code == "ProvisionedThroughputExceededException"
     and .[1].retryable) and
  (.[2].ok and .[2].index == 2) and
  (.[3].ok == false and .[3].error == "TP_EUNAVAIL" and .[3].error_code == "InternalFailure" and .[3].retryable)
' "$WORK/partial.json" >/dev/null || fail "per-entry results wrong: $(cat "$WORK/partial.json")"

whole_call() { # pkey expected_error
    local out rc=0
    out="$(AWS_ENDPOINT_URL_KINESIS="$PROXY" "$K" put "$STREAM" "$1" '{"x":1}')" || rc=$?
    [ "$rc" = 1 ] || fail "$1: expected exit 1, got $rc: $out"
    [ "$(jq -r .error <<<"$out")" = "$2" ] || fail "$1: expected $2: $out"
}
whole_call throttle-all TP_ETHROTTLED
whole_call hdr-throttle TP_ETHROTTLED
whole_call unavail-all TP_EUNAVAIL
kill "$PROXY_PID" 2>/dev/null || true
wait "$PROXY_PID" 2>/dev/null || true
PROXY_PID=""

"$K" dump "$STREAM" --max-idle-ms 1500 >"$WORK/dump2.ndjson" || fail "second dump"
got="$(jq -r 'select(.partition_key | test("^(ok-|fail-|throttle|hdr-|unavail)")) | .partition_key' \
    "$WORK/dump2.ndjson" | sort | tr '\n' ' ')"
[ "$got" = "ok-a ok-c " ] || fail "only the successful entries should be stored, found: $got"

# --- 4. S3 --------------------------------------------------------------------------------------
step "s3: bucket $BUCKET"
"$S" mb "$BUCKET" || fail "mb"
BUCKET_MADE=1
"$S" mb "$BUCKET" || fail "mb of our own bucket should succeed"
KEY='tenant=a b/ü.json'
printf '{"archived":true,"s":"żółw"}\n' >"$WORK/obj.json"
"$S" put "$BUCKET" "$KEY" "$WORK/obj.json" --content-type application/json || fail "put $KEY"
"$S" get "$BUCKET" "$KEY" >"$WORK/got.json" || fail "get $KEY"
cmp -s "$WORK/obj.json" "$WORK/got.json" || fail "object body changed in the round trip"
for i in 1 2 3 4 5; do
    printf 'page %s' "$i" | "$S" put "$BUCKET" "tenant=a b/page/p&<$i>.txt" - || fail "put page $i"
done
"$S" put "$BUCKET" "other/x.txt" "$WORK/obj.json" || fail "put other"
TP_LOG_LEVEL=debug "$S" ls "$BUCKET" --prefix 'tenant=a b/' --page-size 2 >"$WORK/ls.ndjson" 2>"$WORK/ls.log" ||
    fail "ls: $(cat "$WORK/ls.log")"
want="$(printf '%s\n' 'tenant=a b/page/p&<1>.txt 6' 'tenant=a b/page/p&<2>.txt 6' 'tenant=a b/page/p&<3>.txt 6' \
    'tenant=a b/page/p&<4>.txt 6' 'tenant=a b/page/p&<5>.txt 6' "tenant=a b/ü.json $(wc -c <"$WORK/obj.json")")"
have="$(jq -r '"\(.key) \(.size)"' "$WORK/ls.ndjson" | sort)"
[ "$have" = "$(sort <<<"$want")" ] || fail "listing: want [$want] have [$have]"
pages="$(grep -c '"msg":"aws request".*list-type=2' "$WORK/ls.log" || true)"
[ "$pages" -ge 3 ] || fail "6 keys at page size 2 should take >= 3 ListObjectsV2 calls, took $pages"
grep -q 'continuation-token=' "$WORK/ls.log" || fail "no continuation token was followed"
rc=0
"$S" get "$BUCKET" "tenant=a b/missing.json" >/dev/null 2>"$WORK/missing.err" || rc=$?
[ "$rc" = 1 ] && grep -q TP_ENOTFOUND "$WORK/missing.err" || fail "missing object: rc=$rc $(cat "$WORK/missing.err")"

step "ok"
