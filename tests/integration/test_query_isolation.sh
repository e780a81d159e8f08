#!/usr/bin/env bash
# test_query_isolation.sh — a tenant-scoped read key never sees another tenant's rows, on any
# endpoint, in JSON or CSV; another tenant's detail, activity and jobs are 404 (like a missing
# tenant); a key without the read scope is 403; no key or a bad key is 401.
set -euo pipefail
source "$(dirname "$0")/test_query_common.bash"
query_load_seed
"$PY" "$LIB" isolation "${QARGS[@]}" --truth "$QUERY_TRUTH" || die "tenant isolation broken"
echo "PASS test_query_isolation"
