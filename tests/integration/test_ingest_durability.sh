#!/usr/bin/env bash
# test_ingest_durability.sh — a 202 from ingest-api never loses an event.
#
# The shared stack is never disturbed: this test runs its own kinesis-local (persisted under its
# work dir, on free ports), its own tests/tools/kinesis_fault_proxy.py in front of it, and its own
# ingest-api instances (own spool dirs) pointed at the proxy. Only the shared PostgreSQL is used,
# read-only, for API keys. Everything it starts is stopped on exit, also on failure.
#
#   A. retries: the proxy fails 30% of PutRecords entries; only those are sent again, nothing lost.
#   B. crash: kill -9 ingest-api under load, restart it; the client retries what was not answered.
#   C. outage: stop kinesis-local under load; posting goes on with 202s from the spool (its depth
#      is read from /metrics); kill -9 ingest-api while the spool holds events and restart it (the
#      spool is recovered from disk); start kinesis-local again and the spool drains.
#   D. spool full: a second ingest-api with a 1 MiB spool and no Kinesis answers 503 + Retry-After
#      and /readyz 503 once full; started again with Kinesis, its spool drains.
#   E. SIGTERM under load (and with requests arriving on kept-alive connections while it drains):
#      the instance stops cleanly; what it acknowledged is in Kinesis.
#   F. group commit (one HTTP loop: each loop commits its own requests): with a 3 s linger, a
#      lone event right after a call goes at once when its connection is the only one (nothing
#      else could come), but waits the linger out beside an idle kept-alive connection;
#      once TP_FLUSH_EVENTS events wait they go at once, in one PutRecords call.
#   G. a batch filled up while nothing is in flight (aggregation off: 300 + 300 records of one
#      stream, the second request arriving while the first lingers, make a 500-entry batch
#      inside the submit, an idle connection keeping the first lingering) still goes out: both
#      requests are answered.
# Then every acknowledged event of every phase must be in Kinesis, in the stream of its type,
# under its partition key, unchanged; extra copies only as identical copies (deduped by event_id).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
: "${TP_STACK_ENV:?TP_STACK_ENV is not set (run through scripts/test.sh, or export it)}"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
SRC="${TP_SOURCE_DIR:?TP_SOURCE_DIR is not set}"
BUILD="${TP_BUILD_DIR:?TP_BUILD_DIR is not set}"
CHECK=(python3 "$SRC/tests/tools/ingest_check.py")
KCLI="$BUILD/tools/kinesis-cli/tp-kinesis"
API_BIN="$BUILD/services/ingest-api/tp-ingest-api"
[[ -x "$KCLI" ]] || fail "$KCLI is not built"
[[ -x "$API_BIN" ]] || fail "$API_BIN is not built"
[[ -n "${TP_SERVICE_TOKEN:-}" ]] || fail "TP_SERVICE_TOKEN is not in $TP_STACK_ENV"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tp-it-durability.XXXXXX")"

# The stack's own helpers start and stop our private kinesis-local (same settings as the stack's).
ROOT="$SRC"
RUN_DIR="$WORK"
PID_DIR="$WORK/pids"
LOG_DIR="$WORK/logs"
SHARDS=2
# Only the shutdown snapshot: a periodic one caught by our SIGTERM can crash kinesis-local and
# truncate its data file (see kinesis_spawn), which would lose what this test checks for.
KINESIS_PERSIST_INTERVAL=1h
mkdir -p "$PID_DIR" "$LOG_DIR"
# shellcheck source=scripts/lib/common.sh
source "$SRC/scripts/lib/common.sh"
# shellcheck source=scripts/lib/stack_aws.sh
source "$SRC/scripts/lib/stack_aws.sh"
need_node_modules

free_ports() { # N: print N distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
read -r KINESIS_PORT KINESIS_TLS_PORT PROXY_PORT API_PORT API2_PORT API3_PORT DEAD_PORT < <(free_ports 7)
KINESIS_URL="http://127.0.0.1:$KINESIS_PORT"
PROXY_URL="http://127.0.0.1:$PROXY_PORT"
API_URL="http://127.0.0.1:$API_PORT"
API2_URL="http://127.0.0.1:$API2_PORT"
API3_URL="http://127.0.0.1:$API3_PORT"
PROXY_PID=""
POSTER=""

cleanup() {
  local rc=$?
  [[ -n "$POSTER" ]] && kill "$POSTER" 2>/dev/null || true
  stop_pidfile "$PID_DIR/api.pid" "$API_BIN" 15 2>/dev/null || true
  stop_pidfile "$PID_DIR/api2.pid" "$API_BIN" 15 2>/dev/null || true
  stop_pidfile "$PID_DIR/api3.pid" "$API_BIN" 15 2>/dev/null || true
  stop_pidfile "$PID_DIR/api4.pid" "$API_BIN" 15 2>/dev/null || true
  [[ -n "$PROXY_PID" ]] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null || true
  stop_pidfile "$PID_DIR/kinesis.pid" "$KINESIS_MARKER" "$KINESIS_STOP_TIMEOUT" 2>/dev/null || true
  if ((rc != 0)); then
    log_tail "$LOG_DIR/api.log" 30 || true
    log_tail "$LOG_DIR/api2.log" 15 || true
    log_tail "$LOG_DIR/api3.log" 15 || true
    log_tail "$LOG_DIR/api4.log" 15 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

SEED=$(( ($(date +%s) + $$) % 900000 + 1 ))
echo "durability: seed $SEED, work dir $WORK, kinesis-local :$KINESIS_PORT, proxy :$PROXY_PORT"

kinesis_up() {
  kinesis_spawn
  kinesis_wait
  kinesis_ensure_streams
}
kinesis_down() { stop_pidfile "$PID_DIR/kinesis.pid" "$KINESIS_MARKER" "$KINESIS_STOP_TIMEOUT"; }

# api_start NAME PORT KINESIS_ENDPOINT [VAR=VALUE ...]: a private ingest-api with spool $WORK/NAME.spool.
api_start() {
  local name="$1" port="$2" endpoint="$3" i
  shift 3
  # In a subshell, so the daemon is not a job of this shell (no job messages when it is killed).
  (spawn_daemon "$PID_DIR/$name.pid" "$LOG_DIR/$name.log" "$WORK" env TP_INGEST_PORT="$port" \
    TP_SPOOL_DIR="$WORK/$name.spool" AWS_ENDPOINT_URL_KINESIS="$endpoint" "$@" "$API_BIN")
  for ((i = 0; i < 300; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/readyz")" == 200 ]] && return 0
    pidfile_pid "$PID_DIR/$name.pid" "$API_BIN" >/dev/null || fail "ingest-api $name exited during start-up"
    sleep 0.2
  done
  fail "ingest-api $name not ready after 60 s"
}
api_kill9() {
  local pid
  pid="$(pidfile_pid "$PID_DIR/$1.pid" "$API_BIN")" || fail "ingest-api $1 is not running"
  kill -9 "$pid"
  while pid_alive "$pid"; do sleep 0.1; done
  echo "durability: killed ingest-api $1 (pid $pid) with SIGKILL"
}

# metric URL NAME [LABELS]: the value of one series (0 if absent).
metric() {
  local want="$2"
  [[ -n "${3:-}" ]] && want="$2{$3}"
  curl -sf --max-time 5 "$1/metrics" | awk -v want="$want" '$1 == want {v = $2} END {print v + 0}'
}
spool_depth() { metric "$1" tp_ingest_spool_entries; }

acked_now() { jq -r '.acked_events // 0' "$1" 2>/dev/null || echo 0; }
# wait_acked FILE N SECONDS: until the running poster has N events acknowledged. A poster that
# finished (or died) first is a failure: the phase did not happen under load.
wait_acked() {
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    (($(acked_now "$1") >= $2)) && return 0
    kill -0 "$POSTER" 2>/dev/null || fail "the poster ended with $(acked_now "$1") < $2 events acknowledged"
    sleep 0.2
  done
  fail "fewer than $2 events acknowledged after $3 s ($(cat "$1" 2>/dev/null))"
}
# post_bg PHASE URL PER_TYPE PACE: synthesize 14*PER_TYPE events and post them in the background.
post_bg() {
  "${CHECK[@]}" synth --seed "$((SEED * 10 + $5))" --per-type "$3" >"$WORK/$1.ndjson"
  "${CHECK[@]}" post --url "$2" --token "$TP_SERVICE_TOKEN" --events "$WORK/$1.ndjson" --acked "$WORK/$1.acked" \
    --progress "$WORK/$1.progress" --batch 50 --concurrency 4 --pace "$4" --retry-for 90 >"$WORK/$1.post.json" &
  POSTER=$!
}
post_wait() {
  wait "$POSTER" || fail "$1: some batches were never acknowledged ($(cat "$WORK/$1.post.json"))"
  POSTER=""
  local n a
  n=$(grep -c . "$WORK/$1.ndjson")
  a=$(grep -c . "$WORK/$1.acked")
  ((a == n)) || fail "$1: $a of $n events acknowledged"
  echo "durability: $1 post: $(cat "$WORK/$1.post.json")"
}

# ---------------------------------------------------------------- set-up
kinesis_up
python3 "$SRC/tests/tools/kinesis_fault_proxy.py" --listen "$PROXY_PORT" --upstream "$KINESIS_URL" \
  --seed "$SEED" >"$LOG_DIR/proxy.log" 2>&1 &
PROXY_PID=$!
for ((i = 0; i < 100; i++)); do curl -sf --max-time 1 "$PROXY_URL/__stats" >/dev/null && break; sleep 0.1; done
curl -sf --max-time 2 "$PROXY_URL/__stats" >/dev/null || fail "the fault proxy did not start"
proxy_mode() { curl -sf --max-time 5 "$PROXY_URL/__fault?mode=$1" >/dev/null || fail "cannot set proxy mode $1"; }
api_start api "$API_PORT" "$PROXY_URL"

# ---------------------------------------------------------------- A: partial failures are retried
proxy_mode partial:0.3
post_bg a "$API_URL" 30 300 1 # 420 events
post_wait a
proxy_mode pass
failed_entries=$(curl -sf "$PROXY_URL/__stats" | jq .records_failed)
retries=$(metric "$API_URL" tp_ingest_retries_total 'reason="throttled"')
echo "durability: A: the proxy failed $failed_entries PutRecords entries; ingest-api counted $retries throttled retries"
((failed_entries > 0)) || fail "A: the proxy injected no partial failure"
[[ "$retries" != 0 ]] || fail "A: partial failures were not counted as throttled retries"

# ---------------------------------------------------------------- B: kill -9 under load
post_bg b "$API_URL" 100 300 2 # 1400 events, ~5 s
wait_acked "$WORK/b.progress" 400 60
api_kill9 api
api_start api "$API_PORT" "$PROXY_URL"
post_wait b

# ---------------------------------------------------------------- C: Kinesis outage
post_bg c "$API_URL" 100 100 3 # 1400 events, ~14 s
wait_acked "$WORK/c.progress" 200 60
kinesis_down
down_at=$(acked_now "$WORK/c.progress")
echo "durability: C: kinesis-local stopped after $down_at acknowledged events"
wait_acked "$WORK/c.progress" $((down_at + 300)) 60
depth=$(spool_depth "$API_URL")
spooled=$(metric "$API_URL" tp_ingest_spooled_events_total)
echo "durability: C: $(acked_now "$WORK/c.progress") acknowledged; spool holds $depth events ($spooled spooled in all)"
((${depth%.*} > 0)) || fail "C: Kinesis is down but the spool is empty: 202s were not from the spool"
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$API_URL/readyz")" == 200 ]] \
  || fail "C: /readyz is not 200 while the spool has room"
api_kill9 api
api_start api "$API_PORT" "$PROXY_URL"
after=$(spool_depth "$API_URL")
echo "durability: C: the restarted ingest-api recovered a spool of $after events"
((${after%.*} >= ${depth%.*})) || fail "C: the spool held $depth events before the crash, $after after"
wait_acked "$WORK/c.progress" $(($(acked_now "$WORK/c.progress") + 100)) 60
kinesis_up
echo "durability: C: kinesis-local started again"
post_wait c
"${CHECK[@]}" wait-drain --url "$API_URL" --timeout 120 >/dev/null || fail "C: the spool did not drain within 120 s"

# ---------------------------------------------------------------- D: spool full
api_start api2 "$API2_PORT" "http://127.0.0.1:$DEAD_PORT" TP_SPOOL_MAX_BYTES=1048576 TP_MAX_ATTEMPT_MS=500
"${CHECK[@]}" synth --seed "$((SEED * 10 + 4))" --per-type 600 >"$WORK/d.ndjson" # 8400 events, ~2.4 MB
split -l 100 -d -a 3 "$WORK/d.ndjson" "$WORK/d.part."
: >"$WORK/d.acked"
full=""
for f in "$WORK"/d.part.*; do
  code=$(curl -s -D "$WORK/d.hdr" -o "$WORK/d.body" -w '%{http_code}' -X POST "$API2_URL/v1/events" \
    -H "Authorization: Bearer $TP_SERVICE_TOKEN" -H 'Content-Type: application/x-ndjson' --data-binary @"$f")
  case "$code" in
    202) cat "$f" >>"$WORK/d.acked" ;;
    503) full="$f"; break ;;
    *) fail "D: HTTP $code: $(cat "$WORK/d.body")" ;;
  esac
done
[[ -n "$full" ]] || fail "D: a 1 MiB spool took $(grep -c . "$WORK/d.acked") events without a 503"
grep -qi '^Retry-After: [0-9]' "$WORK/d.hdr" || fail "D: the 503 has no Retry-After: $(cat "$WORK/d.hdr")"
[[ "$(jq -r .error "$WORK/d.body" 2>/dev/null)" != null ]] || fail "D: the 503 body is not an error: $(cat "$WORK/d.body")"
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$API2_URL/readyz")" == 503 ]] || fail "D: /readyz is not 503 with a full spool"
echo "durability: D: 503 + $(grep -i '^Retry-After' "$WORK/d.hdr" | tr -d '\r') after $(grep -c . "$WORK/d.acked") events; spool $(spool_depth "$API2_URL") events"
stop_pidfile "$PID_DIR/api2.pid" "$API_BIN" 30
api_start api2 "$API2_PORT" "$PROXY_URL"
"${CHECK[@]}" wait-drain --url "$API2_URL" --timeout 120 >/dev/null || fail "D: the full spool did not drain within 120 s"
stop_pidfile "$PID_DIR/api2.pid" "$API_BIN" 30

# ---------------------------------------------------------------- E: SIGTERM under load
post_bg e "$API_URL" 60 300 5 # 840 events
# Also clients on kept-alive connections, so requests keep arriving while it drains (one such
# request, answered 503 before routing, was once dispatched anyway: a crash on SIGTERM).
"${CHECK[@]}" keepalive --url "$API_URL" --connections 16 --seconds 60 >"$WORK/e.keepalive.json" &
KEEPALIVE=$!
wait_acked "$WORK/e.progress" 200 60
api_pid="$(pidfile_pid "$PID_DIR/api.pid" "$API_BIN")"
stops_before=$(grep -c '"msg":"stopped"' "$LOG_DIR/api.log" || true)
stop_pidfile "$PID_DIR/api.pid" "$API_BIN" 30
wait "$KEEPALIVE" || fail "E: the kept-alive clients failed"
(($(grep -c '"msg":"stopped"' "$LOG_DIR/api.log" || true) > stops_before)) || fail "E: ingest-api (pid $api_pid) did not stop cleanly on SIGTERM: $(tail -5 "$LOG_DIR/api.log")"
echo "durability: E: ingest-api stopped on SIGTERM after $(acked_now "$WORK/e.progress") acknowledged events; kept-alive clients got $(cat "$WORK/e.keepalive.json")"
api_start api "$API_PORT" "$PROXY_URL"
post_wait e
"${CHECK[@]}" wait-drain --url "$API_URL" --timeout 120 >/dev/null || fail "E: the spool did not drain within 120 s"

# ---------------------------------------------------------------- F: group commit
# Eleven user.login events (one stream, so one call per flush) posted one per request.
api_start api3 "$API3_PORT" "$PROXY_URL" TP_LINGER_MS=3000 TP_FLUSH_EVENTS=8 TP_INGEST_THREADS=1
"${CHECK[@]}" synth --seed "$((SEED * 10 + 6))" --per-type 11 | grep '"type": *"user.login"' >"$WORK/f.ndjson"
(($(grep -c . "$WORK/f.ndjson") == 11)) || fail "F: expected 11 user.login events from synth"
: >"$WORK/f.acked"
post_one() { # N: post line N of f.ndjson alone; write "HTTP_CODE SECONDS" to f.N.out
  sed -n "${1}p" "$WORK/f.ndjson" >"$WORK/f.$1.json"
  curl -s -o "$WORK/f.$1.body" -w '%{http_code} %{time_total}\n' --max-time 30 -X POST "$API3_URL/v1/events" \
    -H "Authorization: Bearer $TP_SERVICE_TOKEN" -H 'Content-Type: application/json' \
    --data-binary @"$WORK/f.$1.json" >"$WORK/f.$1.out"
}
f_result() { # N: check line N was acknowledged; print its seconds
  local code secs
  read -r code secs <"$WORK/f.$1.out"
  [[ "$code" == 202 ]] || fail "F: event $1 got HTTP $code: $(cat "$WORK/f.$1.body")"
  cat "$WORK/f.$1.json" >>"$WORK/f.acked"
  echo "$secs"
}
calls() { curl -sf "$PROXY_URL/__stats" | jq .put_records_calls; }
post_one 1 # a quiet service sends at once; the linger now runs from this call
f_result 1 >/dev/null
post_one 2 # right after a call, but its connection is the only one: nothing else could come
t1=$(f_result 2)
awk -v t="$t1" 'BEGIN {exit !(t < 1.0)}' || fail "F: the only connection's event waited $t1 s (the linger), not sent at once"
flushes() { metric "$API3_URL" tp_ingest_lane_flushes_total "reason=\"$1\""; }
(($(flushes all_waiting) == 2)) || fail "F: /metrics counts $(flushes all_waiting) all_waiting flushes, not 2 (events 1 and 2)"
exec {idle_fd}<>"/dev/tcp/127.0.0.1/$API3_PORT" # kept open and silent: another client may still post
post_one 3
t2=$(f_result 3)
awk -v t="$t2" 'BEGIN {exit !(t >= 2.0)}' || fail "F: a lone event beside an idle connection was answered in $t2 s, not after the 3 s linger"
# It went when the gap after the last call ended (just before its own linger would have).
(($(flushes quiet) == 1)) || fail "F: /metrics counts $(flushes quiet) quiet flushes, not 1"
calls0=$(calls)
post_one 4 & # lingers: the last call went out just now
pids=($!)
sleep 0.5
for n in 5 6 7 8 9 10 11; do post_one "$n" & pids+=($!); done
wait "${pids[@]}"
t3=$(f_result 4)
for n in 5 6 7 8 9 10 11; do f_result "$n" >/dev/null; done
calls1=$(calls)
exec {idle_fd}>&-
echo "durability: F: only connection ${t1} s; lone event beside an idle one ${t2} s (3 s linger); 8 waiting events went out after ${t3} s in $((calls1 - calls0)) call(s)"
awk -v t="$t3" 'BEGIN {exit !(t < 2.0)}' || fail "F: 8 waiting events (TP_FLUSH_EVENTS=8) waited $t3 s, the linger, not the count"
((calls1 - calls0 == 1)) || fail "F: 8 waiting events went out in $((calls1 - calls0)) PutRecords calls, not 1"
(($(flushes count) == 1)) || fail "F: /metrics counts $(flushes count) count flushes, not 1"
stop_pidfile "$PID_DIR/api3.pid" "$API_BIN" 30

# ---------------------------------------------------------------- G: a batch formed by a submit
# The lane once started batches only when it flushed or a call ended: a batch filled inside a
# submit, with no call in flight, was never sent and the loop's requests hung for good.
api_start api4 "$API3_PORT" "$PROXY_URL" TP_KPL_AGGREGATION=false TP_LINGER_MS=3000 TP_FLUSH_EVENTS=100000 \
  TP_INGEST_THREADS=1
"${CHECK[@]}" synth --seed "$((SEED * 10 + 7))" --per-type 80 >"$WORK/g.all.ndjson"
awk '/"type": *"(user|dataset)[.]/ && n++ < 601' "$WORK/g.all.ndjson" >"$WORK/g.ndjson"
(($(grep -c . "$WORK/g.ndjson") == 601)) || fail "G: expected 601 users-stream events from synth"
post_g() { # FIRST LAST NAME: post lines FIRST..LAST as one JSON array; "HTTP_CODE SECONDS" to g.NAME.out
  { echo '['; sed -n "$1,$2p" "$WORK/g.ndjson" | paste -sd, -; echo ']'; } >"$WORK/g.$3.json"
  curl -s -o "$WORK/g.$3.body" -w '%{http_code} %{time_total}\n' --max-time 40 -X POST "$API3_URL/v1/events" \
    -H "Authorization: Bearer $TP_SERVICE_TOKEN" -H 'Content-Type: application/json' \
    --data-binary @"$WORK/g.$3.json" >"$WORK/g.$3.out" || true # a timeout shows as HTTP 000
}
g_result() { # NAME FIRST LAST
  local code secs
  read -r code secs <"$WORK/g.$1.out"
  [[ "$code" == 202 ]] || fail "G: request $1 got HTTP $code after ${secs:-?} s: $(cat "$WORK/g.$1.body" 2>/dev/null)"
  sed -n "$2,$3p" "$WORK/g.ndjson" >>"$WORK/g.acked"
  echo "$secs"
}
: >"$WORK/g.acked"
exec {idle_fd}<>"/dev/tcp/127.0.0.1/$API3_PORT" # so the first request lingers (not every connection waits)
post_g 1 1 warm # a quiet service sends at once; the next requests linger (3 s)
g_result warm 1 1 >/dev/null
post_g 2 301 first &
gpids=($!)
sleep 0.5
post_g 302 601 second & # fills the first 500-entry batch inside its submit
gpids+=($!)
wait "${gpids[@]}"
g1=$(g_result first 2 301)
g2=$(g_result second 302 601)
exec {idle_fd}>&-
echo "durability: G: 300 + 300 events forming a full batch in a submit answered after $g1 s and $g2 s"
stop_pidfile "$PID_DIR/api4.pid" "$API_BIN" 30

# ---------------------------------------------------------------- every acknowledged event is there
mkdir -p "$WORK/dump"
for s in tenants users jobs; do
  AWS_ENDPOINT_URL_KINESIS="$KINESIS_URL" "$KCLI" dump "$s" --max-idle-ms 2000 >"$WORK/dump/$s.ndjson" \
    || fail "tp-kinesis dump $s failed"
done
cat "$WORK"/{a,b,c,d,e,f,g}.acked >"$WORK/acked.ndjson"
echo "durability: $(grep -c . "$WORK/acked.ndjson") acknowledged events to find"
"${CHECK[@]}" compare --expect "$WORK/acked.ndjson" --dump "$WORK/dump" | tee "$WORK/cmp.json" \
  || fail "acknowledged events are missing or changed in Kinesis"
echo "PASS: every acknowledged event is in Kinesis ($(jq -r '"\(.found) found, \(.duplicate_copies) identical extra copies of \(.duplicated_events) events"' "$WORK/cmp.json"))"
