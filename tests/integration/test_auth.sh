#!/usr/bin/env bash
# test_auth.sh — API keys end to end against the running stack (TP_STACK_ENV): no key / bad
# keys → 401; a revoked key → 401 at once; a read-only key cannot post (403); a tenant key
# posting another tenant's event → 403 and nothing of that request reaches Kinesis; tenant
# admins stay inside their tenant (mint, revoke); the all-tenants service key works for any
# tenant but not for admin endpoints; key requests are validated; tp-keys never lists secrets.
set -euo pipefail

: "${TP_STACK_ENV:?TP_STACK_ENV must point at the stack.env written by scripts/stack.sh up}"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
: "${TP_INGEST_URL:?stack.env has no TP_INGEST_URL (is ingest-api built and running?)}"
: "${TP_SERVICE_TOKEN:?stack.env has no TP_SERVICE_TOKEN}"
: "${TP_ADMIN_TOKEN:?stack.env has no TP_ADMIN_TOKEN}"
command -v jq >/dev/null || { echo "FAIL: jq is required" >&2; exit 1; }

U="$TP_INGEST_URL"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

# call METHOD PATH TOKEN [curl args...]: sets STATUS, BODY; headers in $TMP/hdrs.
call() {
  local method="$1" path="$2" token="$3"
  shift 3
  local args=(-sS -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' -X "$method" --max-time 30)
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  STATUS="$(curl "${args[@]}" "$@" "$U$path")" || STATUS=000
  BODY="$(cat "$TMP/body")"
}
post_events() { call POST /v1/events "$1" -H "Content-Type: application/json" --data-binary "$2"; }
mint() { call POST /v1/admin/keys "$1" -H "Content-Type: application/json" --data-binary "$2"; }
expect_status() {
  if [[ "$STATUS" == "$1" ]]; then ok "$2 → $STATUS"; else fail "$2: status $STATUS, want $1; body: ${BODY:0:300}"; fi
}
expect_jq() {
  local got
  got="$(jq -c "$1" <<<"$BODY" 2>/dev/null || echo '<not json>')"
  if [[ "$got" == "$2" ]]; then ok "$3"; else fail "$3: $1 = $got, want $2; body: ${BODY:0:300}"; fi
}
header() { grep -i "^$1:" "$TMP/hdrs" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }

uuid() { cat /proc/sys/kernel/random/uuid; }
NOW="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
login() { # login TENANT [EVENT_ID]: a valid user.login event
  printf '{"event_id":"%s","type":"user.login","tenant_id":"%s","user_id":"u-auth","occurred_at":"%s","attributes":{"session_id":"s-auth"}}' \
    "${2:-$(uuid)}" "$1" "$NOW"
}
# Unique tenants per run so earlier runs' keys never interfere.
RUN="$(date +%s)$$"
TA="auth-a-$RUN"
TB="auth-b-$RUN"

kinesis() {
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:$AWS_REGION:kinesis" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "Content-Type: application/x-amz-json-1.1" -H "X-Amz-Target: Kinesis_20131202.$1" \
    --data-binary "$2" "$AWS_ENDPOINT_URL_KINESIS/"
}
SINCE="$(date +%s)"
stream_dump() { # stream_dump STREAM FILE: decoded data of every record since the test began
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

echo "== no key, bad keys"
post_events "" "$(login "$TA")"
expect_status 401 "no Authorization"
expect_jq .error '"unauthorized"' "401 body"
[[ "$(header WWW-Authenticate)" == "Bearer" ]] && ok "WWW-Authenticate: Bearer" || fail "WWW-Authenticate '$(header WWW-Authenticate)'"
post_events "garbage" "$(login "$TA")"
expect_status 401 "malformed key"
post_events "tp_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$(login "$TA")"
expect_status 401 "well-formed, unknown key"
# the service key's id with another secret
WRONG="${TP_SERVICE_TOKEN:0:20}$(printf 'B%.0s' $(seq 1 43))"
[[ "$WRONG" != "$TP_SERVICE_TOKEN" ]] || WRONG="${TP_SERVICE_TOKEN:0:20}$(printf 'C%.0s' $(seq 1 43))"
post_events "$WRONG" "$(login "$TA")"
expect_status 401 "right key id, wrong secret"
call POST /v1/events "" -H "Authorization: Basic dXNlcjpwYXNz" -H "Content-Type: application/json" --data-binary "$(login "$TA")"
expect_status 401 "Basic auth"

echo "== the all-tenants service key"
post_events "$TP_SERVICE_TOKEN" "[$(login "$TA"), $(login "$TB")]"
expect_status 202 "service key, two tenants"
mint "$TP_SERVICE_TOKEN" '{"tenant_id":null,"scopes":["read"]}'
expect_status 403 "service key on an admin endpoint"
expect_jq .error '"forbidden"' "403 body"

echo "== minting keys (all-tenants admin)"
mint "$TP_ADMIN_TOKEN" "{\"tenant_id\":\"$TA\",\"scopes\":[\"events:write\"],\"description\":\"test_auth writer\"}"
expect_status 201 "mint tenant writer"
expect_jq '[.tenant_id, .scopes]' "[\"$TA\",[\"events:write\"]]" "key tenant and scopes"
KA="$(jq -r .key <<<"$BODY")"
KA_ID="$(jq -r .key_id <<<"$BODY")"
[[ "$KA" =~ ^tp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$ && "$KA" == "tp_${KA_ID}_"* ]] && ok "key format" || fail "key format: $KA"
mint "$TP_ADMIN_TOKEN" "{\"tenant_id\":\"$TA\",\"scopes\":[\"read\"]}"
expect_status 201 "mint read-only key"
KR="$(jq -r .key <<<"$BODY")"
mint "$TP_ADMIN_TOKEN" "{\"tenant_id\":\"$TA\",\"scopes\":[\"admin\"]}"
expect_status 201 "mint tenant admin"
KADM="$(jq -r .key <<<"$BODY")"
mint "$TP_ADMIN_TOKEN" "{\"tenant_id\":\"$TB\",\"scopes\":[\"events:write\"]}"
expect_status 201 "mint other tenant's writer"
KB_ID="$(jq -r .key_id <<<"$BODY")"

echo "== key request validation"
mint "$TP_ADMIN_TOKEN" '{"tenant_id":"x","scopes":["write"]}'
expect_status 400 "unknown scope"
expect_jq '[.error, .field]' '["invalid_request","scopes"]' "names the scopes field"
mint "$TP_ADMIN_TOKEN" '{"scopes":["read"]}'
expect_status 400 "tenant_id missing"
expect_jq .field '"tenant_id"' "names tenant_id"
mint "$TP_ADMIN_TOKEN" '{"tenant_id":"bad id!","scopes":["read"]}'
expect_status 400 "bad tenant id"
mint "$TP_ADMIN_TOKEN" '{"tenant_id":"x","scopes":[],"extra":1}'
expect_status 400 "unknown field"
call POST /v1/admin/keys "$TP_ADMIN_TOKEN" -H "Content-Type: text/plain" --data-binary '{}'
expect_status 415 "admin needs JSON"

echo "== tenant key inside and outside its tenant"
post_events "$KA" "$(login "$TA")"
expect_status 202 "tenant key, own tenant"
EV_OWN="$(uuid)"
EV_FOREIGN="$(uuid)"
post_events "$KA" "[$(login "$TA" "$EV_OWN"), $(login "$TB" "$EV_FOREIGN")]"
expect_status 403 "tenant key, one foreign event"
expect_jq '[.error, .field, .index]' '["forbidden","tenant_id",1]' "403 names tenant_id and the index"
EV_INV="$(uuid)"
post_events "$KA" "[$(login "$TA" "$EV_INV"), {\"tenant_id\":\"$TB\",\"type\":\"nonsense\"}]"
expect_status 403 "a foreign tenant in an otherwise invalid event still refuses all"
expect_jq .index 1 "index of the invalid foreign event"
# Nothing of the refused requests may be stored. A later accepted event on the same stream
# shows the stream has caught up when we look.
SENTINEL="$(uuid)"
post_events "$KA" "$(login "$TA" "$SENTINEL")"
expect_status 202 "sentinel"
STREAM="${TP_STREAM_USERS:-users}"
seen=0
for _ in 1 2 3 4 5; do
  stream_dump "$STREAM" "$TMP/dump"
  if grep -qaF "$SENTINEL" "$TMP/dump"; then seen=1; break; fi
  sleep 1
done
if [[ "$seen" == 1 ]]; then
  ok "sentinel reached Kinesis"
  for e in "$EV_OWN" "$EV_FOREIGN" "$EV_INV"; do
    grep -qaF "$e" "$TMP/dump" && fail "event $e of a refused request reached Kinesis" || ok "refused event $e not stored"
  done
else
  fail "sentinel $SENTINEL never reached stream $STREAM: cannot check what was refused"
fi

echo "== scopes"
post_events "$KR" "$(login "$TA")"
expect_status 403 "read-only key posting"
expect_jq .error '"forbidden"' "403 body"
post_events "$KADM" "$(login "$TA")"
expect_status 403 "admin-only key posting (no events:write)"

echo "== tenant admin stays in its tenant"
mint "$KADM" "{\"tenant_id\":\"$TA\",\"scopes\":[\"events:write\"]}"
expect_status 201 "tenant admin mints for its tenant"
KA2="$(jq -r .key <<<"$BODY")"
KA2_ID="$(jq -r .key_id <<<"$BODY")"
mint "$KADM" "{\"tenant_id\":\"$TB\",\"scopes\":[\"events:write\"]}"
expect_status 403 "tenant admin mints for another tenant"
mint "$KADM" '{"tenant_id":null,"scopes":["read"]}'
expect_status 403 "tenant admin mints an all-tenants key"
call DELETE "/v1/admin/keys/$KB_ID" "$KADM"
expect_status 404 "tenant admin revokes another tenant's key (looks absent)"
call DELETE "/v1/admin/keys/$KA2_ID" "$KADM"
expect_status 204 "tenant admin revokes its tenant's key"
post_events "$KA2" "$(login "$TA")"
expect_status 401 "that key at once"

echo "== revocation is immediate"
post_events "$KA" "$(login "$TA")"
expect_status 202 "key works (and is cached)"
call DELETE "/v1/admin/keys/$KA_ID" "$TP_ADMIN_TOKEN"
expect_status 204 "revoke"
post_events "$KA" "$(login "$TA")"
expect_status 401 "revoked key, right after"
call DELETE "/v1/admin/keys/$KA_ID" "$TP_ADMIN_TOKEN"
expect_status 404 "revoke twice"
expect_jq .error '"not_found"' "404 body"
call DELETE "/v1/admin/keys/$KB_ID" "$TP_SERVICE_TOKEN"
expect_status 403 "revoke without admin scope"
call DELETE "/v1/admin/keys/$KB_ID" "$TP_ADMIN_TOKEN"
expect_status 204 "all-tenants admin revokes any tenant's key"

echo "== tp-keys"
TOOL=""
for t in "${TP_BUILD_DIR:-}/tools/keys/tp-keys" "${TP_STACK_BUILD_DIR:-}/tools/keys/tp-keys"; do
  [[ -x "$t" ]] && { TOOL="$t"; break; }
done
if [[ -z "$TOOL" ]]; then
  fail "tp-keys not found under TP_BUILD_DIR or TP_STACK_BUILD_DIR"
else
  out="$("$TOOL" create --tenant "$TA" --scopes read,events:write --description "cli test")"
  BODY="$out"
  expect_jq '[.tenant_id, .scopes]' "[\"$TA\",[\"events:write\",\"read\"]]" "tp-keys create"
  CK="$(jq -r .key <<<"$out")"
  CK_ID="$(jq -r .key_id <<<"$out")"
  post_events "$CK" "$(login "$TA")"
  expect_status 202 "a tp-keys key posts"
  "$TOOL" list >"$TMP/list"
  grep -q "\"key_id\":\"$CK_ID\"" "$TMP/list" && ok "tp-keys list shows it" || fail "tp-keys list misses $CK_ID"
  secret="${CK:20}"
  if grep -qF "$secret" "$TMP/list" || grep -q '"key"' "$TMP/list" || grep -q secret_sha256 "$TMP/list"; then
    fail "tp-keys list prints a secret"
  else
    ok "tp-keys list prints no secret"
  fi
  "$TOOL" revoke "$CK_ID" >/dev/null && ok "tp-keys revoke" || fail "tp-keys revoke failed"
  # another process revoked it: this service may trust its cache for TP_AUTH_CACHE_MS (1 s)
  sleep 1.5
  post_events "$CK" "$(login "$TA")"
  expect_status 401 "key revoked by tp-keys, after the cache window"
  if "$TOOL" revoke "$CK_ID" 2>/dev/null; then fail "revoking twice succeeded"; else ok "tp-keys revoke twice fails"; fi
fi

if ((FAILS > 0)); then
  echo "test_auth: $FAILS check(s) failed" >&2
  exit 1
fi
echo "test_auth: all checks passed"
