#!/usr/bin/env bash
# test_ingest_api.sh — POST /v1/events against the running stack (TP_STACK_ENV): every event
# type accepted as one event, as a JSON array and as NDJSON; what reaches Kinesis is the event
# re-serialised compactly in the sent key order; partial acceptance lists the rejected indexes;
# each error class answers its exact status and body (400 malformed_json with the offset,
# 400 empty_batch, 413 by count and by bytes, 415, 401, 404, 405); /metrics counters move;
# /healthz, /readyz, request ids.
set -euo pipefail

: "${TP_STACK_ENV:?TP_STACK_ENV must point at the stack.env written by scripts/stack.sh up}"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
: "${TP_INGEST_URL:?stack.env has no TP_INGEST_URL (is ingest-api built and running?)}"
: "${TP_SERVICE_TOKEN:?stack.env has no TP_SERVICE_TOKEN}"
command -v jq >/dev/null || { echo "FAIL: jq is required" >&2; exit 1; }

U="$TP_INGEST_URL"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

# call METHOD PATH CONTENT_TYPE TOKEN [curl args...]: sets STATUS, BODY, HDRS (file).
call() {
  local method="$1" path="$2" ct="$3" token="$4"
  shift 4
  local args=(-sS -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' -X "$method" --max-time 30)
  if [[ -n "$ct" ]]; then args+=(-H "Content-Type: $ct"); else args+=(-H "Content-Type:"); fi
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  STATUS="$(curl "${args[@]}" "$@" "$U$path")" || STATUS=000
  BODY="$(cat "$TMP/body")"
}
post_json() { call POST /v1/events application/json "$TP_SERVICE_TOKEN" --data-binary "$1"; }
post_ndjson() { call POST /v1/events application/x-ndjson "$TP_SERVICE_TOKEN" --data-binary "@$1"; }

expect_status() {
  local want="$1" what="$2"
  if [[ "$STATUS" == "$want" ]]; then ok "$what → $STATUS"; else fail "$what: status $STATUS, want $want; body: ${BODY:0:400}"; fi
}
# expect_jq FILTER WANT WHAT: jq -c FILTER on BODY must print WANT.
expect_jq() {
  local got
  got="$(jq -c "$1" <<<"$BODY" 2>/dev/null || echo '<not json>')"
  if [[ "$got" == "$2" ]]; then ok "$3"; else fail "$3: $1 = $got, want $2; body: ${BODY:0:400}"; fi
}
header() { grep -i "^$1:" "$TMP/hdrs" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }

uuid() { cat /proc/sys/kernel/random/uuid; }
NOW="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# One valid event of each type, as compact JSON on one line each.
events_all_types() {
  local t="${1:-acme}"
  cat <<EOF
{"event_id":"$(uuid)","type":"tenant.created","tenant_id":"$t","occurred_at":"$NOW","attributes":{"company_name":"Acme Corp","industry":"Retail","sentiment":0.4,"plan":"business"}}
{"event_id":"$(uuid)","type":"tenant.updated","tenant_id":"$t","occurred_at":"$NOW","attributes":{"plan":"enterprise","sentiment":0.7}}
{"event_id":"$(uuid)","type":"tenant.closed","tenant_id":"$t","occurred_at":"$NOW","attributes":{"reason":"Moved in-house"}}
{"event_id":"$(uuid)","type":"user.added","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"role":"analyst"}}
{"event_id":"$(uuid)","type":"user.deleted","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"reason":"left"}}
{"event_id":"$(uuid)","type":"user.login","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"session_id":"s-9f1c"}}
{"event_id":"$(uuid)","type":"user.logoff","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"session_id":"s-9f1c","session_seconds":1820}}
{"event_id":"$(uuid)","type":"user.session_timeout","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"session_id":"s-77aa","session_seconds":3600}}
{"event_id":"$(uuid)","type":"dataset.created","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"dataset_id":"ds-1","size_bytes":734003200}}
{"event_id":"$(uuid)","type":"dataset.updated","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"dataset_id":"ds-1","size_bytes":912680550}}
{"event_id":"$(uuid)","type":"dataset.deleted","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"dataset_id":"ds-1","size_bytes":912680550}}
{"event_id":"$(uuid)","type":"job.submitted","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"job_id":"job-1","servers":16,"data_size_bytes":912680550}}
{"event_id":"$(uuid)","type":"job.terminated","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"job_id":"job-1","status":"succeeded","duration_seconds":742.5}}
{"event_id":"$(uuid)","type":"job.cancelled","tenant_id":"$t","user_id":"u-42","occurred_at":"$NOW","attributes":{"job_id":"job-2"}}
EOF
}

# metric NAME LABELS: current value of one series (0 if absent).
metric() {
  curl -sS --max-time 10 "$U/metrics" | awk -v k="$1{$2}" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}
delta_ok() { # delta_ok WHAT BEFORE AFTER WANT_DELTA
  local d
  d="$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%d", b - a }')"
  if [[ "$d" == "$4" ]]; then ok "$1 +$d"; else fail "$1 moved by $d, want $4"; fi
}

# --- Kinesis (reads what the producer stored; records may be KPL aggregates, whose protobuf
# holds each event's bytes verbatim, so a byte search on the decoded data finds them) ---
kinesis() {
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:$AWS_REGION:kinesis" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "Content-Type: application/x-amz-json-1.1" -H "X-Amz-Target: Kinesis_20131202.$1" \
    --data-binary "$2" "$AWS_ENDPOINT_URL_KINESIS/"
}
STREAM_USERS="${TP_STREAM_USERS:-users}"
SINCE="$(date +%s)"
# stream_dump STREAM FILE: every record's decoded data since the test began, concatenated.
stream_dump() {
  local stream="$1" out="$2" shards sid it resp i
  : >"$out"
  shards="$(kinesis ListShards "{\"StreamName\":\"$stream\"}" | jq -r '.Shards[].ShardId')"
  for sid in $shards; do
    it="$(kinesis GetShardIterator "{\"StreamName\":\"$stream\",\"ShardId\":\"$sid\",\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":$((SINCE - 5))}" | jq -r '.ShardIterator')"
    for ((i = 0; i < 50; i++)); do
      [[ -n "$it" && "$it" != null ]] || break
      resp="$(kinesis GetRecords "{\"ShardIterator\":\"$it\",\"Limit\":1000}")"
      jq -r '.Records[].Data' <<<"$resp" | while read -r d; do base64 -d <<<"$d" >>"$out" 2>/dev/null || true; printf '\n' >>"$out"; done
      [[ "$(jq '.Records | length' <<<"$resp")" == 0 ]] && break
      it="$(jq -r '.NextShardIterator // empty' <<<"$resp")"
    done
  done
}

echo "== probes"
call GET /healthz "" ""
expect_status 200 "GET /healthz"
expect_jq . '{"status":"ok"}' "/healthz body"
call GET /readyz "" ""
expect_status 200 "GET /readyz"
expect_jq .status '"ok"' "/readyz body"
call GET /healthz "" "" -H "X-Request-Id: it-req-42"
[[ "$(header X-Request-Id)" == "it-req-42" ]] && ok "request id echoed" || fail "X-Request-Id not echoed: $(header X-Request-Id)"
call GET /v1/nothing "" ""
expect_status 404 "unknown path"
expect_jq .error '"not_found"' "404 body"
call GET /v1/events "" ""
expect_status 405 "GET /v1/events"
[[ "$(header Allow)" == "POST" ]] && ok "405 names Allow: POST" || fail "Allow header: '$(header Allow)'"

acc_users0="$(metric tp_ingest_events_accepted_total 'stream="users"')"
acc_jobs0="$(metric tp_ingest_events_accepted_total 'stream="jobs"')"
acc_ten0="$(metric tp_ingest_events_accepted_total 'stream="tenants"')"

echo "== every type, one per request"
events_all_types >"$TMP/all.ndjson"
while read -r ev; do
  post_json "$ev"
  expect_status 202 "single $(jq -r .type <<<"$ev")"
  expect_jq . '{"accepted":1}' "single body"
done <"$TMP/all.ndjson"

echo "== every type as one JSON array"
events_all_types | jq -s -c . >"$TMP/all.json"
post_json "$(cat "$TMP/all.json")"
expect_status 202 "array of 14"
expect_jq . '{"accepted":14}' "array body"

echo "== every type as NDJSON (with a blank line and CRLF endings)"
{ events_all_types | head -n 7; echo; echo "   "; events_all_types | tail -n 7 | sed 's/$/\r/'; } >"$TMP/nd.ndjson"
post_ndjson "$TMP/nd.ndjson"
expect_status 202 "NDJSON of 14"
expect_jq . '{"accepted":14}' "NDJSON body"
call POST /v1/events "application/json; charset=utf-8" "$TP_SERVICE_TOKEN" --data-binary "$(head -n1 "$TMP/all.ndjson")"
expect_status 202 "charset parameter allowed"

acc_users1="$(metric tp_ingest_events_accepted_total 'stream="users"')"
acc_jobs1="$(metric tp_ingest_events_accepted_total 'stream="jobs"')"
acc_ten1="$(metric tp_ingest_events_accepted_total 'stream="tenants"')"
delta_ok 'accepted{stream="tenants"}' "$acc_ten0" "$acc_ten1" 10  # 3 x 3 + the charset one
delta_ok 'accepted{stream="users"}' "$acc_users0" "$acc_users1" 24
delta_ok 'accepted{stream="jobs"}' "$acc_jobs0" "$acc_jobs1" 9

echo "== Kinesis holds the compact re-serialisation, in the sent key order"
EID="$(uuid)"
PRETTY="{
  \"event_id\" : \"$EID\",
  \"type\":  \"user.login\",   \"tenant_id\": \"acme\",
  \"user_id\": \"u-kin\", \"occurred_at\": \"$NOW\",
  \"attributes\": { \"session_id\" : \"s-kin\" }
}"
COMPACT="{\"event_id\":\"$EID\",\"type\":\"user.login\",\"tenant_id\":\"acme\",\"user_id\":\"u-kin\",\"occurred_at\":\"$NOW\",\"attributes\":{\"session_id\":\"s-kin\"}}"
post_json "$PRETTY"
expect_status 202 "pretty-printed event"
found=0
for _ in 1 2 3 4 5; do
  stream_dump "$STREAM_USERS" "$TMP/users.dump"
  if grep -qaF -- "$COMPACT" "$TMP/users.dump"; then found=1; break; fi
  sleep 1
done
[[ "$found" == 1 ]] && ok "stream $STREAM_USERS holds the compact event" || fail "compact event $EID not found in stream $STREAM_USERS"

echo "== partial acceptance"
rej0="$(metric tp_ingest_events_rejected_total 'reason="invalid_attributes"')"
V1="$(sed -n 6p "$TMP/all.ndjson")"
V2="$(sed -n 12p "$TMP/all.ndjson")"
BADSENT="{\"event_id\":\"$(uuid)\",\"type\":\"tenant.created\",\"tenant_id\":\"acme\",\"occurred_at\":\"$NOW\",\"attributes\":{\"company_name\":\"A\",\"industry\":\"B\",\"sentiment\":1.5,\"plan\":\"free\"}}"
post_json "[$V1, $BADSENT, 42, $V2]"
expect_status 202 "2 valid of 4"
expect_jq .accepted 2 "accepted 2"
expect_jq '[.rejected[].index]' '[1,2]' "rejected indexes"
expect_jq '[.rejected[].field]' '["attributes.sentiment",""]' "rejected fields"
expect_jq '[.rejected[].error] | unique' '["invalid_event"]' "rejected error code"
rej1="$(metric tp_ingest_events_rejected_total 'reason="invalid_attributes"')"
delta_ok 'rejected{reason="invalid_attributes"}' "$rej0" "$rej1" 1

echo "== none valid"
post_json "[$BADSENT, {\"type\":\"user.signin\"}]"
expect_status 400 "all invalid"
expect_jq . "{\"accepted\":0,\"rejected\":[{\"index\":0,\"field\":\"attributes.sentiment\",\"error\":\"invalid_event\",\"message\":$(jq -c '.rejected[0].message' <<<"$BODY")},{\"index\":1,\"field\":\"event_id\",\"error\":\"invalid_event\",\"message\":\"is required\"}]}" "400 has the 202 shape with accepted 0"

echo "== malformed JSON"
mj0="$(metric tp_ingest_events_rejected_total 'reason="malformed_json"')"
post_json '[{"event_id": 1}, {oops}]'
expect_status 400 "malformed JSON"
expect_jq .error '"malformed_json"' "malformed error code"
expect_jq .offset 19 "offset: the first byte that cannot be JSON (the o of oops)"
post_json '{"a": 1, "a": 2}'
expect_status 400 "duplicate keys"
expect_jq .error '"malformed_json"' "duplicate keys are malformed"
mj1="$(metric tp_ingest_events_rejected_total 'reason="malformed_json"')"
delta_ok 'rejected{reason="malformed_json"}' "$mj0" "$mj1" 2

echo "== NDJSON with a line that is not JSON"
{ sed -n 1p "$TMP/all.ndjson"; echo '{"event_id": nope}'; sed -n 2p "$TMP/all.ndjson"; } >"$TMP/bad.ndjson"
LINE1_LEN="$(sed -n 1p "$TMP/all.ndjson" | wc -c)"
post_ndjson "$TMP/bad.ndjson"
expect_status 202 "NDJSON with a bad line keeps the others"
expect_jq .accepted 2 "2 accepted"
expect_jq '[.rejected[] | [.index, .field, .error]]' '[[1,"","invalid_event"]]' "bad line rejected as an invalid event"
want_off=$((LINE1_LEN + 13)) # the line starts after line 1 and its newline; 'nope' starts at 13
expect_jq ".rejected[0].message | contains(\"byte offset $want_off\")" true "message names the offset in the whole body"

echo "== empty"
post_json '[]'
expect_status 400 "empty array"
expect_jq .error '"empty_batch"' "empty_batch"
printf '\n  \n\n' >"$TMP/empty.ndjson"
post_ndjson "$TMP/empty.ndjson"
expect_status 400 "NDJSON of blank lines"
expect_jq .error '"empty_batch"' "empty_batch (NDJSON)"

echo "== size limits"
tl0="$(metric tp_ingest_events_rejected_total 'reason="too_large"')"
http413_0="$(metric tp_http_requests_total 'route="/v1/events",status="413"')"
for i in $(seq 1 500); do sed -n 6p "$TMP/all.ndjson"; done | jq -s -c . >"$TMP/500.json"
call POST /v1/events application/json "$TP_SERVICE_TOKEN" --data-binary "@$TMP/500.json"
expect_status 202 "500 events"
expect_jq .accepted 500 "500 accepted"
jq -c '. + [.[0]]' "$TMP/500.json" >"$TMP/501.json"
call POST /v1/events application/json "$TP_SERVICE_TOKEN" --data-binary "@$TMP/501.json"
expect_status 413 "501 events"
expect_jq .error '"too_large"' "too_large by count"
for i in $(seq 1 501); do sed -n 6p "$TMP/all.ndjson"; done >"$TMP/501.ndjson"
post_ndjson "$TMP/501.ndjson"
expect_status 413 "501 NDJSON lines"
head -c 1048577 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
call POST /v1/events application/json "$TP_SERVICE_TOKEN" --data-binary "@$TMP/big.json"
expect_status 413 "1 MiB + 1 byte"
expect_jq .error '"too_large"' "too_large by bytes"
tl1="$(metric tp_ingest_events_rejected_total 'reason="too_large"')"
http413_1="$(metric tp_http_requests_total 'route="/v1/events",status="413"')"
delta_ok 'rejected{reason="too_large"} (by count)' "$tl0" "$tl1" 2
delta_ok 'http 413 on /v1/events' "$http413_0" "$http413_1" 3

echo "== media types"
mt0="$(metric tp_ingest_events_rejected_total 'reason="unsupported_media_type"')"
call POST /v1/events text/plain "$TP_SERVICE_TOKEN" --data-binary "$V1"
expect_status 415 "text/plain"
expect_jq .error '"unsupported_media_type"' "415 body"
call POST /v1/events "" "$TP_SERVICE_TOKEN" --data-binary "$V1"
expect_status 415 "no Content-Type"
call POST /v1/events "application/jsonx" "$TP_SERVICE_TOKEN" --data-binary "$V1"
expect_status 415 "application/jsonx"
mt1="$(metric tp_ingest_events_rejected_total 'reason="unsupported_media_type"')"
delta_ok 'rejected{reason="unsupported_media_type"}' "$mt0" "$mt1" 3

echo "== unauthenticated"
un0="$(metric tp_ingest_events_rejected_total 'reason="unauthorized"')"
call POST /v1/events application/json "" --data-binary "$V1"
expect_status 401 "no key"
expect_jq .error '"unauthorized"' "401 body"
[[ "$(header WWW-Authenticate)" == "Bearer" ]] && ok "WWW-Authenticate: Bearer" || fail "WWW-Authenticate: '$(header WWW-Authenticate)'"
un1="$(metric tp_ingest_events_rejected_total 'reason="unauthorized"')"
delta_ok 'rejected{reason="unauthorized"}' "$un0" "$un1" 1

echo "== metrics exposition"
call GET /metrics "" ""
expect_status 200 "GET /metrics"
[[ "$(header Content-Type)" == "text/plain; version=0.0.4" ]] && ok "metrics content type" || fail "metrics content type '$(header Content-Type)'"
grep -q '^tp_http_request_seconds_count{route="/v1/events"} ' <<<"$BODY" && ok "latency histogram per route" || fail "no tp_http_request_seconds for /v1/events"
grep -q '^tp_http_requests_total{route="/v1/events",status="202"} ' <<<"$BODY" && ok "requests by route and status" || fail "no tp_http_requests_total for /v1/events 202"

if ((FAILS > 0)); then
  echo "test_ingest_api: $FAILS check(s) failed" >&2
  exit 1
fi
echo "test_ingest_api: all checks passed"
