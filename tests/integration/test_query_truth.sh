#!/usr/bin/env bash
# test_query_truth.sh — every query-api endpoint against the simulator's ground truth, for a
# backfill run through the whole pipeline (tp-sim → ingest-api → Kinesis → stream processor →
# reporting views → query-api): tenant list (every sort, cursor pages, filters), detail and
# totals, activity and jobs series at both granularities (zero-filled), sign-ups and summary per
# tenant, engagement / least-active / data-size over windows ending at the simulation's end, CSV
# equal to JSON; every JSON answer validated against openapi/query.yaml.
set -euo pipefail
source "$(dirname "$0")/test_query_common.bash"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
query_load_seed "$work/truth.ndjson"
"$PY" "$LIB" truth "${QARGS[@]}" --truth "$work/truth.ndjson" || die "query-api answers differ from the truth"
echo "PASS test_query_truth"
