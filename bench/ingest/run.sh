#!/usr/bin/env bash
# bench/ingest/run.sh — ingest-api capacity and end-to-end delivery. A benchmark, not a test.
#
#   make up && bench/ingest/run.sh [capacity|e2e|all]
#   (capacity needs only PostgreSQL: a running stream processor costs CPU the numbers miss)
#
# capacity: ingest-api (release build) against tp-bench-kinesis-ack (answers PutRecords after
#   ACK_DELAY_MS, default 0: the service's own capacity; 20 imitates real Kinesis), beside
#   tp-bench-bare-http (the ceiling) and tp-bench-park-http (no work either, but every request
#   suspended and resumed in its own event loop first: the bound for any durable design on
#   libmicrohttpd), in one run: single-event requests at CONNS (default 128) connections in
#   ROUNDS (default 3) alternating rounds with the two bounds (median ratio), 100-event batches
#   at CONNS and at BATCH_CONNS (default 64), single events from FEW_CONNS (default 4) clients;
#   events/s, p50/p99, peak RSS.
# e2e: through the stack's kinesis-local with KPL aggregation on and off: events/s delivered.
# Results are appended to bench/out/ingest-<date>.md; copy the summary into bench/RESULTS.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${TP_BUILD_DIR:-$root/build/release}
mode=${1:-all}
dur=${DURATION:-10}
conns=${CONNS:-128}
batch_conns=${BATCH_CONNS:-64}
few_conns=${FEW_CONNS:-4}
rounds=${ROUNDS:-3}
ack_port=${ACK_PORT:-4600}
bare_port=${BARE_PORT:-8090}
park_port=${PARK_PORT:-8092}
api_port=${API_PORT:-8091}
out=$root/bench/out
mkdir -p "$out"
report=$out/ingest-$(date -u +%Y%m%dT%H%M%SZ).md
stack_env=${TP_STACK_ENV:-$root/.run/stack.env}
[ -f "$stack_env" ] || { echo "run 'make up' first (need $stack_env for PostgreSQL and keys)" >&2; exit 2; }
# shellcheck disable=SC1090
source "$stack_env"
for b in services/ingest-api/tp-ingest-api bench/ingest/tp-bench-kinesis-ack bench/ingest/tp-bench-bare-http \
  bench/ingest/tp-bench-park-http; do
  [ -x "$build/$b" ] || { echo "missing $build/$b (make build)" >&2; exit 2; }
done
pids=()
cpids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

say() { echo "$*" | tee -a "$report"; }
wait_http() { for _ in $(seq 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# Run wrk, print "req/s events/s p50 p99".
run_wrk() { # url batch [connections]
  local res
  res=$(BATCH=$2 TOKEN=$TP_SERVICE_TOKEN wrk -t2 -c"${3:-$conns}" -d"${dur}s" --latency -s "$here/post_events.lua" "$1")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$res")
  p50=$(awk '$1=="50%" {print $2}' <<<"$res")
  p99=$(awk '$1=="99%" {print $2}' <<<"$res")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$res")
  echo "$rps $(awk -v r="$rps" -v b="$2" 'BEGIN{printf "%.0f", r*b}') $p50 $p99 ${non2xx:-0}"
}

start_api() { # kinesis endpoint, aggregation, extra label
  local spool; spool=$(mktemp -d /tmp/tp-bench-spool.XXXXXX)
  AWS_ENDPOINT_URL_KINESIS=$1 TP_KPL_AGGREGATION=$2 TP_INGEST_PORT=$api_port TP_SPOOL_DIR=$spool \
    TP_LOG_LEVEL=warn "$build/services/ingest-api/tp-ingest-api" 2>>"$out/ingest-api.log" &
  api_pid=$!
  pids+=("$api_pid")
  wait_http "http://127.0.0.1:$api_port/readyz"
}
stop_api() { kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# Whatever else runs shares the 2 cores with wrk: a full stack's stream processor keeps
# kinesis-local at ~18% of a CPU and moved the ceiling and p99 by as much as the changes measured.
# Only PostgreSQL is needed (keys): scripts/stack.sh start-component pg.
busy_pct() { # share of the machine used by others over 2 s, before anything here starts
  local a b
  a=$(head -1 /proc/stat); sleep 2; b=$(head -1 /proc/stat)
  printf '%s\n%s\n' "$a" "$b" | awk '{idle=$5+$6; t=0; for(i=2;i<=NF;i++) t+=$i; if (NR==1) {i0=idle; t0=t} else printf "%.0f", 100-100*(idle-i0)/(t-t0)}'
}
busy=$(busy_pct)
say "# ingest bench $(date -u +%FT%TZ) — $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
say "wrk -t2 -c$conns -d${dur}s, release build $build; machine busy before the run: ${busy}%"
if ((busy > 5)); then
  say "WARNING: ${busy}% of the machine was in use before the run; stop the rest of the stack (keep PostgreSQL) for comparable numbers"
fi

if [ "$mode" = capacity ] || [ "$mode" = all ]; then
  "$build/bench/ingest/tp-bench-kinesis-ack" "$ack_port" "${ACK_DELAY_MS:-0}" >"$out/ack.log" &
  ack_pid=$!; pids+=("$ack_pid")
  "$build/bench/ingest/tp-bench-bare-http" "$bare_port" "${THREADS:-2}" &
  pids+=("$!")
  "$build/bench/ingest/tp-bench-park-http" "$park_port" "${THREADS:-2}" park &
  pids+=("$!")
  wait_http "http://127.0.0.1:$bare_port/"
  wait_http "http://127.0.0.1:$park_port/"
  start_api "http://127.0.0.1:$ack_port" true
  say ""
  say "## capacity (Kinesis = tp-bench-kinesis-ack, ${ACK_DELAY_MS:-0} ms per PutRecords)"
  say "| target | connections | events/request | requests/s | events/s | p50 | p99 | non-2xx |"
  say "|---|---|---|---|---|---|---|---|"
  # The machine's speed drifts by ±20% within minutes: single events and their ceiling are
  # measured in alternating rounds, and the ratio is the median of the rounds' ratios.
  ratios=() park_ratios=()
  for round in $(seq "$rounds"); do
    read -r r e p50 p99 bad < <(run_wrk "http://127.0.0.1:$bare_port/v1/events" 1)
    say "| bare libmicrohttpd (ceiling), round $round | $conns | 1 | $r | $e | $p50 | $p99 | $bad |"
    ceiling=$r
    read -r r e p50 p99 bad < <(run_wrk "http://127.0.0.1:$park_port/v1/events" 1)
    say "| parked + resumed, no work (bound for durable answers), round $round | $conns | 1 | $r | $e | $p50 | $p99 | $bad |"
    park_ratios+=("$(awk -v a="$r" -v b="$ceiling" 'BEGIN{printf "%.1f", 100*a/b}')")
    read -r r e p50 p99 bad < <(run_wrk "http://127.0.0.1:$api_port/v1/events" 1)
    say "| ingest-api, round $round | $conns | 1 | $r | $e | $p50 | $p99 | $bad |"
    ratios+=("$(awk -v a="$r" -v b="$ceiling" 'BEGIN{printf "%.1f", 100*a/b}')")
  done
  read -r r e p50 p99 bad < <(run_wrk "http://127.0.0.1:$api_port/v1/events" 100)
  say "| ingest-api | $conns | 100 | $r | $e | $p50 | $p99 | $bad |"
  read -r r e p50 p99 bad < <(run_wrk "http://127.0.0.1:$api_port/v1/events" 100 "$batch_conns")
  say "| ingest-api | $batch_conns | 100 | $r | $e | $p50 | $p99 | $bad |"
  # A few clients posting one event at a time: what a lone microservice sees (latency, not CPU).
  read -r r e p50 p99 bad < <(run_wrk "http://127.0.0.1:$api_port/v1/events" 1 "$few_conns")
  say "| ingest-api, few clients | $few_conns | 1 | $r | $e | $p50 | $p99 | $bad |"
  say ""
  say "single-event requests/s vs ceiling, per round: ${ratios[*]} (%); median $(median "${ratios[@]}")% (parking alone: median $(median "${park_ratios[@]}")%)"
  say "ingest-api peak RSS (VmHWM): $(peak_rss_mib "$api_pid") MiB"
  stop_api
  kill "$ack_pid"; wait "$ack_pid" 2>/dev/null || true
  say "acknowledger saw: $(tail -1 "$out/ack.log")"
fi

if [ "$mode" = e2e ] || [ "$mode" = all ]; then
  say ""
  say "## end to end through kinesis-local ($AWS_ENDPOINT_URL_KINESIS)"
  say "| KPL aggregation | events posted | seconds until all acknowledged | events/s |"
  say "|---|---|---|---|"
  n=${E2E_EVENTS:-20000}
  for agg in true false; do
    [ "$agg" = false ] && n=${E2E_EVENTS_PLAIN:-1000}
    start_api "$AWS_ENDPOINT_URL_KINESIS" "$agg"
    bodies=$(mktemp -d)
    for i in $(seq 0 $((n / 100 - 1))); do
      awk -v b="$i" -v agg="$agg" 'BEGIN{srand(b + (agg=="true")*100000); printf "[";
        for (j = 0; j < 100; j++) { t = sprintf("e2e%03d", j % 20);
          printf "%s{\"event_id\":\"%08x-%04x-4%03x-8%03x-%012x\",\"type\":\"user.login\",\"tenant_id\":\"%s\",\"user_id\":\"%s-u%d\",\"occurred_at\":\"2026-11-20T10:00:00.000Z\"}",
            (j ? "," : ""), int(rand()*2^31), int(rand()*65535), int(rand()*4095), int(rand()*4095), b*1000+j, t, t, j % 30 }
        printf "]" }' >"$bodies/$i.json"
    done
    t0=$(date +%s.%N)
    sent=0
    for f in "$bodies"/*.json; do
      # 100-event batches, 8 in flight, each acknowledged only once durable.
      curl -fs -o /dev/null -H "Authorization: Bearer $TP_SERVICE_TOKEN" -H 'Content-Type: application/json' \
        --data-binary @"$f" "http://127.0.0.1:$api_port/v1/events" &
      cpids+=("$!")
      sent=$((sent + 100))
      if [ "${#cpids[@]}" -ge 8 ]; then wait "${cpids[@]}"; cpids=(); fi
    done
    [ "${#cpids[@]}" -eq 0 ] || wait "${cpids[@]}"; cpids=()
    # Acknowledged may mean spooled: delivered means the spool is empty again.
    while curl -fs "http://127.0.0.1:$api_port/metrics" | awk '/^tp_ingest_spool_entries/ && $2 > 0 {f=1} END{exit !f}'; do
      sleep 0.2
    done
    t1=$(date +%s.%N)
    rm -rf "$bodies"
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
    say "| $agg | $sent | $secs | $(awk -v n="$sent" -v s="$secs" 'BEGIN{printf "%.0f", n/s}') |"
    stop_api
  done
fi
echo "report: $report"
