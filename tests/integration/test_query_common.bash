# test_query_common.bash — sourced by the test_query_*.sh integration tests (not a test itself;
# ctest registers only test_*.sh). Loads the stack, finds the tools, defines what they share.
die() { echo "FAIL: $*" >&2; exit 1; }
: "${TP_STACK_ENV:?TP_STACK_ENV must name a stack.env (scripts/stack.sh up writes one)}"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
SRC=${TP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${TP_BUILD_DIR:-${TP_STACK_BUILD_DIR:-$SRC/build/release}}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
LIB="$SRC/tests/integration/test_query_lib.py"
[[ -n "${TP_QUERY_URL:-}" ]] || die "the stack runs no query-api (TP_QUERY_URL unset in $TP_STACK_ENV)"
[[ -n "${TP_ADMIN_TOKEN:-}" ]] || die "TP_ADMIN_TOKEN unset in $TP_STACK_ENV"
curl -fsS "$TP_QUERY_URL/readyz" >/dev/null || die "query-api at $TP_QUERY_URL is not ready"
KEYS_BIN=""
for k in "$BUILD/tools/keys/tp-keys" "${TP_STACK_BUILD_DIR:-/nonexistent}/tools/keys/tp-keys"; do
  [[ -x $k ]] && { KEYS_BIN=$k; break; }
done
# Common arguments of test_query_lib.py: the API, its schemas, and how to mint keys.
QARGS=(--url "$TP_QUERY_URL" --token "$TP_ADMIN_TOKEN" --spec "$SRC/openapi/query.yaml" --source-dir "$SRC")
[[ -n "${TP_INGEST_URL:-}" ]] && QARGS+=(--ingest-url "$TP_INGEST_URL" --admin-token "$TP_ADMIN_TOKEN")
[[ -n "$KEYS_BIN" ]] && QARGS+=(--keys-bin "$KEYS_BIN")

# The stream processor makes the rollups every test here reads: without it they would wait in vain.
[[ -n "${TP_PROCESSOR_URL:-}" ]] || die "the stack runs no stream-processor (TP_PROCESSOR_URL unset in $TP_STACK_ENV)"
curl -fsS -m 5 "$TP_PROCESSOR_URL/readyz" >/dev/null \
  || die "the stream processor at $TP_PROCESSOR_URL is not ready (see its log in ${TP_RUN_DIR:-the run dir}/logs)"

# The shared data set: simulator seed 21, tenants q0001..q0008 (a prefix no other test uses), 3
# days from 2026-01-01, posted through ingest-api and rolled up by the stream processor. Posting
# through kinesis-local is slow, so the first query test posts it and records that in the run
# dir; the others reuse the truth file and only check the rollups hold it. Sets QUERY_TRUTH.
query_load_seed() {
  local sim="$BUILD/tools/simulator/tp-sim" dir="${TP_RUN_DIR:-$(dirname "$TP_STACK_ENV")}/query-seed21"
  [[ -x $sim ]] || die "$sim not built"
  [[ -n "${TP_INGEST_URL:-}" ]] || die "the stack runs no ingest-api (TP_INGEST_URL unset)"
  mkdir -p "$dir" || die "cannot create $dir"
  QUERY_TRUTH="$dir/truth.ndjson"
  (
    flock -w 600 9 || die "another test holds $dir/lock"
    if [[ ! -s "$dir/rolled-up" || ! -s $QUERY_TRUTH ]]; then
      # Posting again is harmless: the same event ids, which the processor counts once.
      "$sim" --seed 21 --tenant-prefix q --tenants 8 --days 3 --start 2026-01-01T00:00:00Z \
        --truth "$QUERY_TRUTH.tmp" --to "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" --no-progress >/dev/null \
        || die "tp-sim could not post the seed-21 events to $TP_INGEST_URL"
      mv "$QUERY_TRUTH.tmp" "$QUERY_TRUTH"
    fi
    "$PY" "$LIB" wait "${QARGS[@]}" --truth "$QUERY_TRUTH" --processor-url "$TP_PROCESSOR_URL" \
      --timeout "${TP_QUERY_WAIT_S:-150}" --stall "${TP_QUERY_STALL_S:-60}" \
      || die "the pipeline did not roll up the seed-21 events (stream-processor log: ${TP_RUN_DIR:-run dir}/logs)"
    date -u +%FT%TZ >"$dir/rolled-up"
  ) 9>"$dir/lock" || exit 1
}
