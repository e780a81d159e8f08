#!/usr/bin/env bash
# test_simulator.sh — tp-sim against the running stack (TP_STACK_ENV): a small backfill posted to
# ingest-api ends with every event accepted (the summary line says so and the exit status is 0);
# a run with injected invalid events gets exactly those rejected and every valid one accepted;
# the NDJSON written alongside matches what was posted; a bad token fails with a non-zero exit.
set -euo pipefail

: "${TP_STACK_ENV:?TP_STACK_ENV must point at the stack.env written by scripts/stack.sh up}"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
: "${TP_INGEST_URL:?stack.env has no TP_INGEST_URL (is ingest-api built and running?)}"
: "${TP_SERVICE_TOKEN:?stack.env has no TP_SERVICE_TOKEN}"
command -v jq >/dev/null || { echo "FAIL: jq is required" >&2; exit 1; }

SIM="${TP_BUILD_DIR:?TP_BUILD_DIR is not set}/tools/simulator/tp-sim"
[[ -x "$SIM" ]] || { echo "FAIL: $SIM is not built" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
# A prefix of our own, so these tenants and event ids collide with no other test's on a shared stack.
PFX="simit$(date +%s)x$$-"

# --- 1. the issue's run: 10 tenants, 2 days, every event accepted --------------------------------
rc=0
"$SIM" --seed 7 --tenants 10 --days 2 --to "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" \
  --tenant-prefix "${PFX}a" --out "$TMP/a.ndjson" --truth "$TMP/a.truth" --no-progress \
  >"$TMP/a.summary" 2>"$TMP/a.err" || rc=$?
SUM="$(tail -n1 "$TMP/a.summary")"
echo "summary: $SUM"
if [[ $rc -ne 0 ]]; then fail "tp-sim exited $rc: $(tail -n5 "$TMP/a.err")"; else ok "tp-sim exited 0"; fi
lines="$(wc -l <"$TMP/a.ndjson")"
truth_events="$(tail -n1 "$TMP/a.truth" | jq .events)"
[[ "$lines" -gt 200 ]] && ok "backfill has $lines events" || fail "only $lines events generated"
[[ "$truth_events" == "$lines" ]] && ok "truth summary counts all $lines events" || fail "truth says $truth_events, file has $lines"
[[ "$(jq .sent <<<"$SUM")" == "$lines" ]] && ok "sent = $lines" || fail "sent $(jq .sent <<<"$SUM"), want $lines"
[[ "$(jq .accepted <<<"$SUM")" == "$lines" ]] && ok "accepted = $lines" || fail "accepted $(jq .accepted <<<"$SUM"), want $lines"
[[ "$(jq .rejected <<<"$SUM")" == "0" ]] && ok "none rejected" || fail "rejected $(jq .rejected <<<"$SUM")"
for k in retries seconds events_per_s; do
  jq -e "has(\"$k\")" <<<"$SUM" >/dev/null && ok "summary has $k" || fail "summary lacks $k"
done

# --- 2. injected invalid events: exactly those are rejected ---------------------------------------
rc=0
"$SIM" --seed 8 --tenants 5 --days 1 --invalid-share 0.05 --batch 50 --concurrency 4 \
  --to "$TP_INGEST_URL" --token "$TP_SERVICE_TOKEN" --tenant-prefix "${PFX}b" \
  --truth "$TMP/b.truth" --no-progress >"$TMP/b.summary" 2>"$TMP/b.err" || rc=$?
SUM="$(tail -n1 "$TMP/b.summary")"
echo "summary: $SUM"
inj="$(tail -n1 "$TMP/b.truth" | jq .invalid_injected)"
valid="$(tail -n1 "$TMP/b.truth" | jq .events)"
[[ $rc -eq 0 ]] && ok "exit 0 with invalid events injected" || fail "exit $rc: $(tail -n5 "$TMP/b.err")"
[[ "$inj" -gt 0 ]] && ok "$inj invalid events injected" || fail "no invalid events injected"
[[ "$(jq .rejected <<<"$SUM")" == "$inj" ]] && ok "rejected = injected ($inj)" || fail "rejected $(jq .rejected <<<"$SUM"), injected $inj"
[[ "$(jq .accepted <<<"$SUM")" == "$valid" ]] && ok "accepted = valid ($valid)" || fail "accepted $(jq .accepted <<<"$SUM"), valid $valid"

# --- 3. a wrong token: nothing accepted, non-zero exit ---------------------------------------------
rc=0
"$SIM" --seed 9 --tenants 2 --days 1 --events-per-day 50 --to "$TP_INGEST_URL" --token "not-a-key" \
  --tenant-prefix "${PFX}c" --no-progress >"$TMP/c.summary" 2>"$TMP/c.err" || rc=$?
[[ $rc -ne 0 ]] && ok "a bad token exits $rc" || fail "a bad token exited 0"
[[ "$(tail -n1 "$TMP/c.summary" | jq .accepted)" == "0" ]] && ok "bad token: nothing accepted" || fail "bad token: $(cat "$TMP/c.summary")"

if [[ $FAILS -ne 0 ]]; then
  echo "test_simulator: $FAILS failure(s)" >&2
  exit 1
fi
echo "test_simulator: all passed"
