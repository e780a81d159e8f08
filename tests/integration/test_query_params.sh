#!/usr/bin/env bash
# test_query_params.sh — every parameter's malformed, out-of-range and injection-looking values,
# unknown and repeated parameters, and bad path ids give 400 with a JSON body naming the
# parameter (caps stated in the message); good values at the limits still answer 200.
set -euo pipefail
source "$(dirname "$0")/test_query_common.bash"
query_load_seed
"$PY" "$LIB" params "${QARGS[@]}" --tenant q0001 || die "bad parameters not rejected as documented"
# The tables survived the injection-looking values.
curl -fsS -H "Authorization: Bearer $TP_ADMIN_TOKEN" "$TP_QUERY_URL/v1/tenants/q0001" >/dev/null \
  || die "tenant q0001 unreadable after the bad-parameter run"
echo "PASS test_query_params"
