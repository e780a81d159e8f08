#!/usr/bin/env bash
# test_processor_chaos.sh — exactness of the stream processor under failures.
#
# While a simulator backfill trickles through ingest-api (some batches posted twice), this test
# runs a second processor instance beside the stack's, kill -9s both repeatedly (restarting
# them), splits a shard of the users stream, and stops s3rver for a while. Afterwards every
# reporting view row of the test's tenants must equal the truth, and the archive must hold every
# event exactly as often as it was posted. Leaves the stack as it found it (processor and
# s3rver running, and as many open users shards as before: the split's children are merged back).
set -euo pipefail

fail() { echo "test_processor_chaos: FAIL: $*" >&2; exit 1; }
say() { echo "test_processor_chaos: $*"; }
[[ -n "${TP_STACK_ENV:-}" && -r "$TP_STACK_ENV" ]] || fail "TP_STACK_ENV does not name a readable stack.env"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
SRC="${TP_SOURCE_DIR:?TP_SOURCE_DIR not set}"
BUILD="${TP_BUILD_DIR:-${TP_STACK_BUILD_DIR:?}}"
SIM="$BUILD/tools/simulator/tp-sim"
DUMP="$BUILD/services/stream-processor/tp-archive-dump"
PROC="$TP_STACK_BUILD_DIR/services/stream-processor/tp-stream-processor"
KCLI="$BUILD/tools/kinesis-cli/tp-kinesis"
STACK="${TP_STACK_SH:?TP_STACK_SH unset}"
CHECK=(python3 "$SRC/tests/tools/processor_check.py")
for x in "$SIM" "$DUMP" "$PROC" "$KCLI"; do [[ -x "$x" ]] || fail "$x not built"; done
[[ -n "${TP_INGEST_URL:-}" ]] || fail "ingest-api is not part of the stack (TP_INGEST_URL unset)"
[[ -n "${TP_PROCESSOR_URL:-}" ]] || fail "the stream processor is not part of the stack (TP_PROCESSOR_URL unset)"
curl -fsS --max-time 5 "$TP_PROCESSOR_URL/readyz" >/dev/null || fail "stream processor not ready at $TP_PROCESSOR_URL"

tmp="$(mktemp -d)"
prefix="pc$(printf '%04x%04x' $RANDOM $RANDOM)t"
second_pid=""
poster_pid=""
split_shard=""

stack_pid() { cat "$TP_RUN_DIR/pids/stream-processor.pid" 2>/dev/null || true; }

cleanup() {
  local rc=$?
  [[ -n "$poster_pid" ]] && kill "$poster_pid" 2>/dev/null || true
  if [[ -n "$second_pid" ]] && kill -0 "$second_pid" 2>/dev/null; then
    kill -TERM "$second_pid" 2>/dev/null || true
    wait "$second_pid" 2>/dev/null || true
  fi
  "$STACK" start-component s3 >/dev/null 2>&1 || true
  "$STACK" start-component stream-processor >/dev/null 2>&1 || true
  [[ -n "$split_shard" ]] && { merge_back "$split_shard" || echo "could not merge users/$split_shard back" >&2; }
  if [[ $rc -ne 0 ]]; then
    echo "--- second instance log (tail) ---" >&2
    tail -n 30 "$tmp/second.log" >&2 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# MergeShards the two open children of a split shard, so later tests see the shard count they expect.
merge_back() {
  local pair
  pair="$("$KCLI" list-shards users | python3 -c '
import json, sys
kids = [s for s in json.load(sys.stdin) if s.get("open") and s.get("parent_shard_id") == sys.argv[1]]
kids.sort(key=lambda s: int(s["starting_hash_key"]))
print(" ".join(s["shard_id"] for s in kids) if len(kids) == 2 else "")' "$1")"
  [[ -n "$pair" ]] || return 1
  set -- $pair
  curl -fsS --max-time 10 --aws-sigv4 "aws:amz:$AWS_REGION:kinesis" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: Kinesis_20131202.MergeShards' \
    -d "{\"StreamName\":\"users\",\"ShardToMerge\":\"$1\",\"AdjacentShardToMerge\":\"$2\"}" \
    "$AWS_ENDPOINT_URL_KINESIS/" >/dev/null
}

# A second instance with its own name and a short archive age, so flushes happen mid-chaos.
start_second() {
  (
    set -a
    # shellcheck disable=SC1090
    source "$TP_STACK_ENV"
    set +a
    export TP_PROCESSOR_PORT=0 TP_PROCESSOR_INSTANCE_ID="chaos-$prefix-$1" TP_ARCHIVE_MAX_AGE_MS=1500
    exec "$PROC"
  ) >>"$tmp/second.log" 2>&1 &
  second_pid=$!
}
kill9_second() {
  kill -9 "$second_pid" 2>/dev/null || true
  wait "$second_pid" 2>/dev/null || true
}
kill9_stack() {
  local pid
  pid="$(stack_pid)"
  [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
  sleep 0.5
  "$STACK" start-component stream-processor >/dev/null || fail "could not restart the stack's processor"
}

"$SIM" --seed 23 --tenants 12 --days 3 --start 2026-02-01T00:00:00Z --tenant-prefix "$prefix" \
  --out "$tmp/raw.ndjson" --truth "$tmp/truth.ndjson" --no-progress >/dev/null
"${CHECK[@]}" prepare --events "$tmp/raw.ndjson" --out "$tmp/events.ndjson" --salt "$prefix"

start_second A
"${CHECK[@]}" post --events "$tmp/events.ndjson" --url "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" \
  --batch 50 --pause-ms 250 --repost-every 7 --dups-out "$tmp/dups.txt" >"$tmp/post.out" 2>&1 &
poster_pid=$!

sleep 3
say "kill -9 the second instance, start it again"
kill9_second
start_second B
sleep 3
shard="$("$KCLI" list-shards users | python3 -c '
import json, sys
open_shards = [s for s in json.load(sys.stdin) if s.get("open")]
print(open_shards[0]["shard_id"])')"
say "split users/$shard"
"$KCLI" split-shard users "$shard" >/dev/null || fail "split-shard failed"
split_shard="$shard"
sleep 2
say "stop s3rver"
"$STACK" stop-component s3 >/dev/null || fail "could not stop s3rver"
sleep 2
say "kill -9 the stack's processor, start it again"
kill9_stack
sleep 4
say "kill -9 the second instance, start it again"
kill9_second
start_second C
sleep 4
say "start s3rver"
"$STACK" start-component s3 >/dev/null || fail "could not start s3rver"
wait "$poster_pid" || { cat "$tmp/post.out" >&2; poster_pid=""; fail "posting failed"; }
poster_pid=""
cat "$tmp/post.out"
say "kill -9 the stack's processor once more"
kill9_stack

"${CHECK[@]}" wait --truth "$tmp/truth.ndjson" --prefix "$prefix" --timeout 240 || fail "rollups did not catch up"
sleep 3
"${CHECK[@]}" compare-db --truth "$tmp/truth.ndjson" --prefix "$prefix" || fail "rollups differ from the truth"

for ((i = 0; i < 120; i++)); do
  if "$DUMP" --prefix "tenant=$prefix" >"$tmp/s3.txt" 2>"$tmp/s3.err" &&
    "${CHECK[@]}" compare-s3 --events "$tmp/events.ndjson" --prefix "$prefix" --dups "$tmp/dups.txt" \
      <"$tmp/s3.txt" >"$tmp/s3.out" 2>&1; then
    cat "$tmp/s3.out"
    say "PASS"
    exit 0
  fi
  sleep 2
done
cat "$tmp/s3.err" "$tmp/s3.out" >&2
fail "the S3 archive is not exact"
