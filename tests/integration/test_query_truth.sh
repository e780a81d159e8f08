#!/usr/bin/env bash
# test_query_truth.sh — every query-api endpoint against the simulator's ground truth, for a
# backfill run through the whole pipeline (tp-sim → ingest-api → Kinesis → stream processor →
# reporting views → query-api): tenant list (every sort, cursor pages, filters), detail and
# totals, activity and jobs series at both granularities (zero-filled), sign-ups and summary per
# tenant, engagement / least-active / data-size over windows ending at the simulation's end; every
# answer fetched again as CSV and required to carry the same rows and values as its JSON; every
# JSON answer validated against openapi/query.yaml. The seed-21 data set is posted once per stack
# (test_query_common.bash) and shared with the other query tests.
set -euo pipefail
source "$(dirname "$0")/test_query_common.bash"
query_load_seed
"$PY" "$LIB" truth "${QARGS[@]}" --truth "$QUERY_TRUTH" || die "query-api answers differ from the truth"
echo "PASS test_query_truth"
