#!/usr/bin/env bash
# test_processor_errors.sh — what the stream processor does with records it did not expect.
#
# Writes straight into Kinesis (tp-kinesis, bypassing ingest-api): a record that is not JSON
# and an event that fails validation (both must land under the archive's error prefix with
# the reason and the payload, and count nowhere), and two valid events packed in one KPL
# aggregated record (both must be deaggregated, rolled up and archived).
set -euo pipefail

fail() { echo "test_processor_errors: FAIL: $*" >&2; exit 1; }
[[ -n "${TP_STACK_ENV:-}" && -r "$TP_STACK_ENV" ]] || fail "TP_STACK_ENV does not name a readable stack.env"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
BUILD="${TP_BUILD_DIR:-${TP_STACK_BUILD_DIR:?}}"
KCLI="$BUILD/tools/kinesis-cli/tp-kinesis"
DUMP="$BUILD/services/stream-processor/tp-archive-dump"
for x in "$KCLI" "$DUMP"; do [[ -x "$x" ]] || fail "$x not built"; done
[[ -n "${TP_PROCESSOR_URL:-}" ]] || fail "the stream processor is not part of the stack (TP_PROCESSOR_URL unset)"
curl -fsS --max-time 5 "$TP_PROCESSOR_URL/readyz" >/dev/null || fail "stream processor not ready at $TP_PROCESSOR_URL"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
m="perr$(printf '%04x%04x' $RANDOM $RANDOM)"
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
now="$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
hour="$(date -u +%Y-%m-%dT%H:00:00)"

"$KCLI" put jobs "$m" "not json $m" >/dev/null || fail "put failed"
bad="{\"event_id\":\"$(uuid)\",\"type\":\"job.submitted\",\"tenant_id\":\"$m\",\"user_id\":\"u1\",\"occurred_at\":\"$now\",\"attributes\":{\"servers\":1}}"
"$KCLI" put jobs "$m" "$bad" >/dev/null || fail "put failed"
e1="{\"event_id\":\"$(uuid)\",\"type\":\"user.login\",\"tenant_id\":\"$m\",\"user_id\":\"u1\",\"occurred_at\":\"$now\"}"
e2="{\"event_id\":\"$(uuid)\",\"type\":\"user.logoff\",\"tenant_id\":\"$m\",\"user_id\":\"u1\",\"occurred_at\":\"$now\",\"attributes\":{\"session_seconds\":61}}"
"$KCLI" put-agg users "$m:u1" "$m:u1" "$e1" "$m:u1" "$e2" >/dev/null || fail "put-agg failed"

# The rollup: both aggregated events, nothing of the invalid ones.
q="SELECT logins || ',' || logoffs || ',' || session_seconds || ',' || events || ',' || active_users
     FROM reporting.tenant_activity_hourly WHERE tenant_id = '$m'"
got=""
for ((i = 0; i < 60; i++)); do
  got="$(psql "$DATABASE_URL" -X -A -t -c "$q")"
  [[ "$got" == "1,1,61,2,1" ]] && break
  sleep 1
done
[[ "$got" == "1,1,61,2,1" ]] || fail "rollup of the KPL aggregate: got '$got', want 1,1,61,2,1"
echo "rollup: the KPL-aggregated events were counted, the invalid ones were not"

# The archive: the two events under their tenant/user/hour, the two bad records as errors.
ok=0
for ((i = 0; i < 60; i++)); do
  "$DUMP" --prefix "tenant=$m/" >"$tmp/events.txt" 2>/dev/null || true
  "$DUMP" --prefix "errors/stream=jobs/" >"$tmp/errors.txt" 2>/dev/null || true
  if python3 - "$m" "$tmp/events.txt" "$tmp/errors.txt" "${hour:0:10}" "${hour:11:2}" <<'PY'
import base64, json, sys
m, ev_path, err_path, day, hour = sys.argv[1:]
events = [l.split("\t", 1) for l in open(ev_path) if l.strip()]
want_prefix = f"tenant={m}/user=u1/dt={day}/hour={hour}/users-"
if len(events) != 2 or not all(k.startswith(want_prefix) for k, _ in events):
    sys.exit(1)
reasons = {}
for line in open(err_path):
    key, _, body = line.rstrip("\n").partition("\t")
    rec = json.loads(body)
    data = base64.b64decode(rec["data_base64"]).decode()
    if m in data:
        reasons[data] = rec["reason"]
ok = any(d == f"not json {m}" and r == "not a JSON object" for d, r in reasons.items()) and \
     any(d.startswith("{") and "attributes.job_id" in r for d, r in reasons.items())
sys.exit(0 if ok and len(reasons) == 2 else 1)
PY
  then
    ok=1
    break
  fi
  sleep 2
done
((ok)) || { cat "$tmp/events.txt" "$tmp/errors.txt" >&2 || true; fail "archive: events or error objects missing or wrong"; }
echo "archive: the events under tenant=$m, the bad records under errors/ with their reasons"
echo "test_processor_errors: PASS"
