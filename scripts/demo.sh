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

SIM="$BUILD/tools/simulator/tp-sim"
if [[ -z "${TP_INGEST_URL:-}" ]]; then
  say "demo: ingest-api is not built yet, so no events were posted"
elif [[ -z "${TP_SERVICE_TOKEN:-}" ]]; then
  say "demo: no TP_SERVICE_TOKEN (tp-keys not built yet), so no events were posted"
elif [[ -x "$SIM" ]]; then
  say "demo: simulating 20 tenants over 7 days with tp-sim"
  "$SIM" --seed 1 --tenants 20 --days 7 --to "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" </dev/null \
    || warn "tp-sim exited with an error"
else
  post_samples
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
  status:           ${MAKE_PREFIX}make status
  stop:             ${MAKE_PREFIX}make down        (${MAKE_PREFIX}make clean-stack also deletes the data)
EOF
