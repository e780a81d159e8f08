#!/usr/bin/env bash
# test_processor_exact.sh — the stream processor's exactness against the simulator's truth.
#
# A simulator backfill (fresh tenants and event ids, so re-runs on the same stack are new data)
# goes through ingest-api, every fifth batch posted twice like a producer retry. Then every
# reporting view row of those tenants must equal the ground truth, and every posted event must
# be in the S3 archive exactly as often as it was posted, under its tenant/user/date/hour.
set -euo pipefail

fail() { echo "test_processor_exact: FAIL: $*" >&2; exit 1; }
[[ -n "${TP_STACK_ENV:-}" && -r "$TP_STACK_ENV" ]] || fail "TP_STACK_ENV does not name a readable stack.env"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
SRC="${TP_SOURCE_DIR:?TP_SOURCE_DIR not set}"
BUILD="${TP_BUILD_DIR:-${TP_STACK_BUILD_DIR:?}}"
SIM="$BUILD/tools/simulator/tp-sim"
DUMP="$BUILD/services/stream-processor/tp-archive-dump"
CHECK=(python3 "$SRC/tests/tools/processor_check.py")
[[ -x "$SIM" ]] || fail "$SIM not built"
[[ -x "$DUMP" ]] || fail "$DUMP not built"
[[ -n "${TP_INGEST_URL:-}" ]] || fail "ingest-api is not part of the stack (TP_INGEST_URL unset)"
[[ -n "${TP_PROCESSOR_URL:-}" ]] || fail "the stream processor is not part of the stack (TP_PROCESSOR_URL unset)"
[[ -n "${TP_SERVICE_TOKEN:-}" ]] || fail "TP_SERVICE_TOKEN unset"
curl -fsS --max-time 5 "$TP_PROCESSOR_URL/readyz" >/dev/null || fail "stream processor not ready at $TP_PROCESSOR_URL"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="pe$(printf '%04x%04x' $RANDOM $RANDOM)t"

"$SIM" --seed 11 --tenants 8 --days 3 --start 2026-01-01T00:00:00Z --tenant-prefix "$prefix" \
  --out "$tmp/raw.ndjson" --truth "$tmp/truth.ndjson" --no-progress >/dev/null
"${CHECK[@]}" prepare --events "$tmp/raw.ndjson" --out "$tmp/events.ndjson" --salt "$prefix"
"${CHECK[@]}" post --events "$tmp/events.ndjson" --url "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" \
  --batch 200 --repost-every 5 --dups-out "$tmp/dups.txt"

"${CHECK[@]}" wait --truth "$tmp/truth.ndjson" --prefix "$prefix" --timeout 180 || fail "rollups did not catch up"
sleep 2 # anything still arriving now would be a double count
"${CHECK[@]}" compare-db --truth "$tmp/truth.ndjson" --prefix "$prefix" || fail "rollups differ from the truth"

# The archive flushes by age (TP_ARCHIVE_MAX_AGE_MS): poll until it is complete.
for ((i = 0; i < 90; i++)); do
  if "$DUMP" --prefix "tenant=$prefix" >"$tmp/s3.txt" 2>"$tmp/s3.err" &&
    "${CHECK[@]}" compare-s3 --events "$tmp/events.ndjson" --prefix "$prefix" --dups "$tmp/dups.txt" \
      <"$tmp/s3.txt" >"$tmp/s3.out" 2>&1; then
    cat "$tmp/s3.out"
    echo "test_processor_exact: PASS"
    exit 0
  fi
  sleep 2
done
cat "$tmp/s3.err" "$tmp/s3.out" >&2
fail "the S3 archive is not exact"
