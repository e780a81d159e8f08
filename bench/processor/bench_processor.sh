#!/usr/bin/env bash
# bench_processor.sh — the stream processor's throughput and freshness on this machine.
#
#   TP_STACK_ENV=.run/stack.env bench/processor/bench_processor.sh [EVENTS_PER_DAY]
#
# 1. The sinks alone (tp-bench-processor-sink, 6 shards as 3 streams x 2 shards would give):
#    ~170k simulator events into the rollups (PostgreSQL) and into the archive (S3). This is
#    the processor's own capacity: kinesis-local cannot serve that rate on this machine.
# 2. End to end through Kinesis: stops the stack's processor, backfills a smaller simulator run
#    (EVENTS_PER_DAY x 2 days, default 5000) through ingest-api, then times a processor with only
#    the rollup consumer, then one with only the archive consumer, until every new event is done.
# 3. Restarts the stack's processor and measures POST → rollup-visible delay (freshness.py).
# Prints one JSON line per measurement. Uses a stack of its own ideally (TP_PORT_OFFSET): it
# stops and restarts that stack's processor.
set -euo pipefail
[[ -n "${TP_STACK_ENV:-}" && -r "$TP_STACK_ENV" ]] || { echo "set TP_STACK_ENV to a stack.env" >&2; exit 2; }
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${TP_BUILD_DIR:-$TP_STACK_BUILD_DIR}"
SIM="$BUILD/tools/simulator/tp-sim"
PROC="$TP_STACK_BUILD_DIR/services/stream-processor/tp-stream-processor"
EPD="${1:-5000}"
SINK="$BUILD/bench/processor/tp-bench-processor-sink"
PORT="$TP_PROCESSOR_PORT"
tmp="$(mktemp -d)"
bench_pid=""
cleanup() {
  [[ -n "$bench_pid" ]] && { kill -TERM "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; }
  "$TP_STACK_SH" start-component stream-processor >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

events_done() { # sum of tp_processor_events_total for a consumer
  curl -s --max-time 2 "http://127.0.0.1:$PORT/metrics" |
    awk -v c="consumer=\"$1\"" '/^tp_processor_events_total\{/ && index($0, c) { s += $NF } END { printf "%d\n", s }'
}

run_consumer() { # consumer expected_events -> JSON line
  local consumer="$1" want="$2" t0 t1 got=0
  t0="$(date +%s.%N)"
  (
    set -a
    # shellcheck disable=SC1090
    source "$TP_STACK_ENV"
    set +a
    export TP_PROCESSOR_PORT="$PORT" TP_PROCESSOR_CONSUMERS="$consumer" TP_PROCESSOR_INSTANCE_ID="bench-$consumer-$$" \
      TP_ARCHIVE_MAX_AGE_MS=1000 TP_LOG_LEVEL=warn
    exec "$PROC"
  ) >>"$tmp/proc.log" 2>&1 &
  bench_pid=$!
  while ((got < want)); do
    sleep 0.2
    got="$(events_done "$consumer" || echo 0)"
    kill -0 "$bench_pid" 2>/dev/null || { cat "$tmp/proc.log" >&2; exit 1; }
    if (($(date +%s) - ${t0%.*} > 900)); then echo "timeout: $got of $want" >&2; exit 1; fi
  done
  t1="$(date +%s.%N)"
  kill -TERM "$bench_pid"
  wait "$bench_pid" || true
  bench_pid=""
  python3 -c "import json; print(json.dumps({'measure': 'kinesis_to_$consumer', 'events': $want,
    'seconds': round($t1 - $t0, 2), 'events_per_s': round($want / ($t1 - $t0))}))"
}

for consumer in rollup archive; do
  "$SIM" --seed "$RANDOM$RANDOM" --tenants 200 --days 2 --start 2026-06-01T00:00:00Z --events-per-day 100000 \
    --tenant-prefix "bs$(printf '%04x' $RANDOM)t" --out "$tmp/sink.ndjson" --no-progress >/dev/null
  "$SINK" "$consumer" "$tmp/sink.ndjson" 5000 6
done

"$TP_STACK_SH" stop-component stream-processor >/dev/null
prefix="bp$(printf '%04x' $RANDOM)t"
"$SIM" --seed "$RANDOM" --tenants 200 --days 2 --start 2026-03-01T00:00:00Z --events-per-day "$EPD" \
  --tenant-prefix "$prefix" --to "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" --concurrency 8 --batch 500 \
  --no-progress >"$tmp/sim.json"
n="$(python3 -c "import json; print(json.load(open('$tmp/sim.json'))['accepted'])")"
python3 -c "import json; d = json.load(open('$tmp/sim.json')); print(json.dumps({'measure': 'backfill_post', 'events': d['accepted'], 'events_per_s': d['events_per_s']}))"
sleep 2 # let ingest-api's producer drain into Kinesis
run_consumer rollup "$n"
run_consumer archive "$n"

"$TP_STACK_SH" start-component stream-processor >/dev/null
python3 "$HERE/freshness.py" --rate 20 --seconds 30
