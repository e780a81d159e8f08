#!/usr/bin/env bash
# test_ingest_durability.sh — a 202 from ingest-api never loses an event.
#
# Phase 1, crash: post under load, kill -9 ingest-api half-way, restart it; the client retries
#   what was not answered. Every acknowledged event must be in Kinesis.
# Phase 2, outage: post under load, stop kinesis-local; posting goes on and is acknowledged
#   from the spool; kill -9 ingest-api while the spool holds events and restart it (the spool
#   is recovered from disk); start kinesis-local again. Everything acknowledged arrives, and
#   any event stored twice is an identical copy (consumers dedupe by event_id).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
: "${TP_STACK_ENV:?TP_STACK_ENV is not set (run through scripts/test.sh, or export it)}"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
SRC="${TP_SOURCE_DIR:?TP_SOURCE_DIR is not set}"
BUILD="${TP_BUILD_DIR:?TP_BUILD_DIR is not set}"
CHECK=(python3 "$SRC/tests/tools/ingest_check.py")
KCLI="$BUILD/tools/kinesis-cli/tp-kinesis"
STACK="${TP_STACK_SH:-$SRC/scripts/stack.sh}"
PIDFILE="$TP_RUN_DIR/pids/ingest-api.pid"

[[ -n "${TP_INGEST_URL:-}" ]] || fail "TP_INGEST_URL is not in $TP_STACK_ENV (tp-ingest-api not built?)"
[[ -x "$KCLI" ]] || fail "$KCLI is not built"
[[ -r "$PIDFILE" ]] || fail "no ingest-api pid file at $PIDFILE"
curl -sf --max-time 5 "$TP_INGEST_URL/readyz" >/dev/null || fail "ingest-api at $TP_INGEST_URL is not ready"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tp-it-durability.XXXXXX")"
POSTER=""
cleanup() {
  [[ -n "$POSTER" ]] && kill "$POSTER" 2>/dev/null || true
  # Leave the stack as we found it, whatever happened.
  bash "$STACK" start-component kinesis >/dev/null 2>&1 || true
  bash "$STACK" start-component ingest-api >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
SEED=$(( ($(date +%s) + $$) % 900000 + 1 ))
echo "durability: seed $SEED, work dir $WORK"

acked_now() { jq -r '.acked_events // 0' "$1" 2>/dev/null || echo 0; }
# wait_acked FILE N SECONDS: until the poster's progress shows at least N acknowledged events.
wait_acked() {
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    (($(acked_now "$1") >= $2)) && return 0
    kill -0 "$POSTER" 2>/dev/null || return 0
    sleep 0.2
  done
  fail "fewer than $2 events acknowledged after $3 s ($(cat "$1" 2>/dev/null))"
}
kill9_ingest() {
  local pid
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null || fail "ingest-api (pid $pid) is not running"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  echo "durability: killed ingest-api (pid $pid) with SIGKILL"
}
spool_entries() {
  curl -sf --max-time 5 "$TP_INGEST_URL/metrics" | awk '$1 == "tp_ingest_spool_entries" {print $2}'
}

# ---------------------------------------------------------------- phase 1: crash under load
"${CHECK[@]}" synth --seed "$SEED" --per-type 150 >"$WORK/p1.ndjson" # 2100 events
n1=$(grep -c . "$WORK/p1.ndjson")
"${CHECK[@]}" post --url "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" --events "$WORK/p1.ndjson" \
  --acked "$WORK/p1.acked" --progress "$WORK/p1.progress" --batch 50 --concurrency 4 --pace 300 \
  --retry-for 120 >"$WORK/p1.post.json" &
POSTER=$!
wait_acked "$WORK/p1.progress" $((n1 / 3)) 60
kill9_ingest
bash "$STACK" start-component ingest-api || fail "ingest-api did not come back after SIGKILL"
wait "$POSTER" || fail "phase 1: some batches were never acknowledged ($(cat "$WORK/p1.post.json"))"
POSTER=""
echo "durability: phase 1 post: $(cat "$WORK/p1.post.json")"

# ---------------------------------------------------------------- phase 2: Kinesis outage
"${CHECK[@]}" synth --seed $((SEED + 1)) --per-type 200 >"$WORK/p2.ndjson" # 2800 events
n2=$(grep -c . "$WORK/p2.ndjson")
"${CHECK[@]}" post --url "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" --events "$WORK/p2.ndjson" \
  --acked "$WORK/p2.acked" --progress "$WORK/p2.progress" --batch 50 --concurrency 4 --pace 200 \
  --retry-for 180 >"$WORK/p2.post.json" &
POSTER=$!
wait_acked "$WORK/p2.progress" 300 60
bash "$STACK" stop-component kinesis || fail "could not stop kinesis-local"
down_at=$(acked_now "$WORK/p2.progress")
echo "durability: kinesis-local stopped after $down_at acknowledged events"
# Posting must go on: acknowledged from the spool while Kinesis is away.
wait_acked "$WORK/p2.progress" $((down_at + 500)) 90
spooled=$(spool_entries || echo 0)
echo "durability: $(acked_now "$WORK/p2.progress") acknowledged, spool holds ${spooled:-?} events"
[[ "${spooled:-0}" != 0 ]] || fail "Kinesis is down but the spool is empty: 202s were not from the spool"
# A crash while the spool holds acknowledged events: they must survive it.
kill9_ingest
bash "$STACK" start-component ingest-api || fail "ingest-api did not come back after SIGKILL (Kinesis down)"
after=$(spool_entries || echo 0)
echo "durability: restarted ingest-api recovered a spool of ${after:-?} events"
wait_acked "$WORK/p2.progress" $(($(acked_now "$WORK/p2.progress") + 200)) 90
bash "$STACK" start-component kinesis || fail "could not start kinesis-local again"
echo "durability: kinesis-local started again"
wait "$POSTER" || fail "phase 2: some batches were never acknowledged ($(cat "$WORK/p2.post.json"))"
POSTER=""
echo "durability: phase 2 post: $(cat "$WORK/p2.post.json")"
"${CHECK[@]}" wait-drain --url "$TP_INGEST_URL" --timeout 300 || fail "the spool did not drain within 300 s"

# ---------------------------------------------------------------- every acknowledged event is there
mkdir -p "$WORK/dump"
for s in tenants users jobs; do
  "$KCLI" dump "$s" --max-idle-ms 3000 >"$WORK/dump/$s.ndjson" || fail "tp-kinesis dump $s failed"
done
cat "$WORK/p1.acked" "$WORK/p2.acked" >"$WORK/acked.ndjson"
echo "durability: $(grep -c . "$WORK/acked.ndjson") acknowledged events to find ($n1 + $n2 posted)"
"${CHECK[@]}" compare --expect "$WORK/acked.ndjson" --dump "$WORK/dump" | tee "$WORK/cmp.json" \
  || fail "acknowledged events are missing or changed in Kinesis"
echo "PASS: every acknowledged event is in Kinesis ($(jq -r '"\(.found) found, \(.duplicate_copies) duplicate copies of \(.duplicated_events) events"' "$WORK/cmp.json"))"
