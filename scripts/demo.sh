#!/usr/bin/env bash
# demo.sh — `make demo`: deps, release build, the local stack, sample events, then where to look.
# Leaves the stack running; `make down` stops it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"
cd "$ROOT"

BUILD="$(abspath "${TP_BUILD_DIR:-$ROOT/build/release}")"

bash scripts/deps.sh
say "demo: building $BUILD"
# A build dir given in TP_BUILD_DIR keeps its own configuration (it may be a sanitizer build).
if [[ -z "${TP_BUILD_DIR:-}" || ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_SANITIZE=OFF >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)"
export TP_BUILD_DIR="$BUILD"
bash scripts/stack.sh up

RUN_DIR="$(abspath "${TP_RUN_DIR:-$ROOT/.run}")"
# shellcheck disable=SC1091
source "$RUN_DIR/stack.env"

# A few events of each stream's kinds, for when the simulator is not built.
post_samples() {
  local now tenant i body status sent=0
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for i in 1 2 3; do
    tenant="demo-tenant-$i"
    for body in \
      "{\"type\":\"tenant.created\",\"tenant_id\":\"$tenant\",\"attributes\":{\"company_name\":\"Demo $i\",\"industry\":\"retail\",\"sentiment\":0.5,\"plan\":\"business\"}}" \
      "{\"type\":\"user.added\",\"tenant_id\":\"$tenant\",\"user_id\":\"u-$i\",\"attributes\":{\"role\":\"analyst\"}}" \
      "{\"type\":\"user.login\",\"tenant_id\":\"$tenant\",\"user_id\":\"u-$i\",\"attributes\":{\"session_id\":\"s-$i\"}}" \
      "{\"type\":\"dataset.created\",\"tenant_id\":\"$tenant\",\"user_id\":\"u-$i\",\"attributes\":{\"dataset_id\":\"d-$i\",\"size_bytes\":1048576}}" \
      "{\"type\":\"job.submitted\",\"tenant_id\":\"$tenant\",\"user_id\":\"u-$i\",\"attributes\":{\"job_id\":\"j-$i\",\"servers\":4,\"data_size_bytes\":1048576}}" \
      "{\"type\":\"job.terminated\",\"tenant_id\":\"$tenant\",\"user_id\":\"u-$i\",\"attributes\":{\"job_id\":\"j-$i\",\"status\":\"succeeded\",\"duration_seconds\":12.5}}" \
      "{\"type\":\"user.logoff\",\"tenant_id\":\"$tenant\",\"user_id\":\"u-$i\",\"attributes\":{\"session_id\":\"s-$i\",\"session_seconds\":600}}"; do
      # event_id and occurred_at added here so each run posts new events.
      body="$(jq -c --arg id "$(cat /proc/sys/kernel/random/uuid)" --arg at "$now" \
        '. + {event_id: $id, occurred_at: $at}' <<<"$body")"
      status="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$TP_INGEST_URL/v1/events" \
        -H "Authorization: Bearer $TP_SERVICE_TOKEN" -H 'Content-Type: application/json' -d "$body" || true)"
      if [[ "$status" == 2* ]]; then sent=$((sent + 1)); else warn "POST /v1/events -> $status: $body"; fi
    done
  done
  say "demo: posted $sent sample events"
}

# The simulator's backfill through the whole pipeline: POST to ingest-api, then wait until the
# stream processor has rolled every event up (the rollups' event count reaches the ground truth's).
# The same seed gives the same event ids, so running the demo again changes no figure.
demo_caught_up() {
  local lags
  lags="$(curl -fsS "$TP_PROCESSOR_URL/metrics" 2>/dev/null | awk '/^tp_processor_millis_behind_latest[{ ]/ {print $NF}')"
  [[ -n "$lags" ]] && ! grep -qv '^0$' <<<"$lags"
}

demo_simulate() {
  local truth="$RUN_DIR/demo-truth.ndjson" want got i
  say "demo: simulating 20 tenants over the last 7 days with tp-sim (seed 1)"
  if ! "$SIM" --seed 1 --tenants 20 --days 7 --truth "$truth" --to "$TP_INGEST_URL" \
    --token "$TP_SERVICE_TOKEN" </dev/null; then
    warn "tp-sim exited with an error"
    return 0
  fi
  [[ -n "${TP_PROCESSOR_URL:-}" ]] || { say "demo: the stream processor is not built: no rollups"; return 0; }
  want="$(jq -s '[.[] | select(.kind == "tenant") | .events] | add // 0' "$truth")"
  say "demo: waiting for the stream processor to roll up $want events"
  for ((i = 0; i < 600; i++)); do
    got="$(psql "$DATABASE_URL" -Atqc \
      "SELECT coalesce(sum(events), 0) FROM reporting.tenant_activity_daily WHERE tenant_id ~ '^t[0-9]{4}$'" \
      2>/dev/null || echo "?")"
    [[ "$got" == "$want" ]] && { say "demo: all $want events are in the rollups"; return 0; }
    # More than this run posted: an earlier demo (another day, other events) left its own. Then
    # "caught up" is the processor's word for it: every shard 0 ms behind the stream's tip.
    if [[ "$got" =~ ^[0-9]+$ ]] && ((got > want)) && demo_caught_up; then
      say "demo: the processor has caught up ($got events in the rollups, earlier demo runs included)"
      return 0
    fi
    ((i % 10 == 0)) && say "demo: rolled up $got of $want events"
    sleep 1
  done
  warn "demo: after 10 minutes the rollups hold $got of $want events (see $RUN_DIR/logs/stream-processor.log)"
}

SIM="$BUILD/tools/simulator/tp-sim"
if [[ -z "${TP_INGEST_URL:-}" ]]; then
  say "demo: ingest-api is not built yet, so no events were posted"
elif [[ -z "${TP_SERVICE_TOKEN:-}" ]]; then
  say "demo: no TP_SERVICE_TOKEN (tp-keys not built yet), so no events were posted"
elif [[ -x "$SIM" ]]; then
  demo_simulate
else
  post_samples
fi

if [[ -n "${TP_QUERY_URL:-}" && -n "${TP_ADMIN_TOKEN:-}" ]]; then
  say "demo: GET $TP_QUERY_URL/v1/metrics/summary"
  curl -fsS -H "Authorization: Bearer $TP_ADMIN_TOKEN" "$TP_QUERY_URL/v1/metrics/summary" | jq . || true
fi

MAKE_PREFIX=""
[[ "$RUN_DIR" == "$ROOT/.run" ]] || MAKE_PREFIX="TP_RUN_DIR=$RUN_DIR "
cat <<EOF

tenantpulse is running (data in $RUN_DIR):
  ingest API        ${TP_INGEST_URL:-(not built)}        POST /v1/events
  query API         ${TP_QUERY_URL:-(not built)}
  stream processor  ${TP_PROCESSOR_URL:-(not built)}        /metrics, /readyz
  metrics           <service URL>/metrics (Prometheus text)
  PostgreSQL        $DATABASE_URL
  Kinesis (local)   $AWS_ENDPOINT_URL_KINESIS   streams: $TP_STREAMS
  S3 (local)        $AWS_ENDPOINT_URL_S3   bucket: $TP_ARCHIVE_BUCKET

  environment:      source $RUN_DIR/stack.env   (tokens: \$TP_SERVICE_TOKEN, \$TP_ADMIN_TOKEN)
  then try:         curl -H "Authorization: Bearer \$TP_ADMIN_TOKEN" \$TP_QUERY_URL/v1/tenants
                    curl -H "Authorization: Bearer \$TP_ADMIN_TOKEN" "\$TP_QUERY_URL/v1/insights/least-active?window=7d"
                    psql "\$DATABASE_URL" -c 'SELECT * FROM reporting.tenants'
  status:           ${MAKE_PREFIX}make status
  stop:             ${MAKE_PREFIX}make down        (${MAKE_PREFIX}make clean-stack also deletes the data)
EOF
