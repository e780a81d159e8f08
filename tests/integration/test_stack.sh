#!/usr/bin/env bash
# test_stack.sh — the stack is what its stack.env says, and tp-migrate behaves against a real server.
#
#  1. PostgreSQL answers on DATABASE_URL as the app role; the read-only URL (if any) cannot write.
#  2. The streams tenants/users/jobs exist, ACTIVE, 168 h retention, TP_SHARDS open shards (SigV4).
#  3. The archive bucket exists in s3rver.
#  4. Every db/migrations file is applied with its current sha256; tp-migrate --status is clean.
#  5. tp-migrate on a scratch database: applies in order, is idempotent, serialises concurrent runs,
#     rolls a failing file back, refuses a changed file, a COMMIT inside a file, and out-of-order files.
#  6. Every service URL in stack.env is ready; kinesis-local and s3rver keep their state over a
#     stop-component / start-component.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ -n "${TP_STACK_ENV:-}" && -r "${TP_STACK_ENV}" ]] || fail "TP_STACK_ENV is not set to a readable stack.env"
# shellcheck disable=SC1090
source "$TP_STACK_ENV"
: "${TP_SOURCE_DIR:?TP_SOURCE_DIR not set}"
: "${TP_BUILD_DIR:?TP_BUILD_DIR not set}"
for v in DATABASE_URL TP_PG_ADMIN_URL AWS_ENDPOINT_URL_KINESIS AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID \
         AWS_SECRET_ACCESS_KEY AWS_REGION TP_ARCHIVE_BUCKET TP_SHARDS TP_STACK_SH TP_RUN_DIR; do
  [[ -n "${!v:-}" ]] || fail "stack.env does not set $v"
done
MIGRATE="$TP_BUILD_DIR/tools/migrate/tp-migrate"
[[ -x "$MIGRATE" ]] || fail "$MIGRATE not built"
export PGCONNECT_TIMEOUT=5
pass() { echo "ok: $*"; }

# --- 1. PostgreSQL ---
[[ "$DATABASE_URL" == *@127.0.0.1:* ]] || fail "DATABASE_URL is not on 127.0.0.1: $DATABASE_URL"
who="$(psql "$DATABASE_URL" -X -A -t -c 'SELECT current_user || $$/$$ || current_database()')" \
  || fail "psql cannot connect with DATABASE_URL"
[[ "$who" == "tenantpulse/tenantpulse" ]] || fail "DATABASE_URL connects as $who, want tenantpulse/tenantpulse"
listen="$(psql "$TP_PG_ADMIN_URL" -X -A -t -c 'SHOW listen_addresses')"
[[ "$listen" == "127.0.0.1" ]] || fail "PostgreSQL listens on '$listen', want 127.0.0.1 only"
pass "PostgreSQL answers as tenantpulse on 127.0.0.1"
if [[ -n "${TP_READONLY_DATABASE_URL:-}" ]]; then
  psql "$TP_READONLY_DATABASE_URL" -X -A -t -c 'SELECT 1' >/dev/null || fail "TP_READONLY_DATABASE_URL cannot connect"
  if psql "$TP_READONLY_DATABASE_URL" -X -q -c 'CREATE TABLE tp_ro_probe (x int)' >/dev/null 2>&1; then
    psql "$TP_PG_ADMIN_URL" -X -q -d tenantpulse -c 'DROP TABLE IF EXISTS public.tp_ro_probe' >/dev/null 2>&1 || true
    fail "the read-only role could create a table"
  fi
  pass "TP_READONLY_DATABASE_URL connects and cannot create tables"
fi

# --- 2. Kinesis streams ---
kinesis() {
  curl -sS --fail-with-body --max-time 10 --aws-sigv4 "aws:amz:$AWS_REGION:kinesis" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'Content-Type: application/x-amz-json-1.1' \
    -H "X-Amz-Target: Kinesis_20131202.$1" -d "$2" "$AWS_ENDPOINT_URL_KINESIS/"
}
check_streams() {
  local s sum
  for s in tenants users jobs; do
    sum="$(kinesis DescribeStreamSummary "{\"StreamName\":\"$s\"}")" || fail "DescribeStreamSummary $s failed: $sum"
    [[ "$(jq -r .StreamDescriptionSummary.StreamStatus <<<"$sum")" == ACTIVE ]] || fail "stream $s not ACTIVE: $sum"
    [[ "$(jq -r .StreamDescriptionSummary.RetentionPeriodHours <<<"$sum")" == 168 ]] \
      || fail "stream $s retention is not 168 h: $sum"
    [[ "$(jq -r .StreamDescriptionSummary.OpenShardCount <<<"$sum")" == "$TP_SHARDS" ]] \
      || fail "stream $s does not have $TP_SHARDS open shards: $sum"
  done
}
check_streams
pass "streams tenants/users/jobs ACTIVE, 168 h, $TP_SHARDS shards"

# --- 3. S3 bucket ---
check_bucket() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -I --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "$AWS_ENDPOINT_URL_S3/$TP_ARCHIVE_BUCKET")"
  [[ "$code" == 200 ]] || fail "HEAD bucket $TP_ARCHIVE_BUCKET -> $code"
}
check_bucket
pass "bucket $TP_ARCHIVE_BUCKET exists"

# --- 4. migrations applied ---
n_files=0
for f in "$TP_SOURCE_DIR"/db/migrations/*.sql; do
  [[ -e "$f" ]] || continue
  n_files=$((n_files + 1))
  base="$(basename "$f")"
  version=$((10#${base%%_*}))
  want="$(sha256sum "$f" | cut -d' ' -f1)"
  got="$(psql "$DATABASE_URL" -X -A -t -v v="$version" <<<"SELECT sha256 FROM schema_migrations WHERE version = :'v';")"
  [[ "$got" == "$want" ]] || fail "$base: schema_migrations has sha256 '$got', file has $want"
done
n_rows="$(psql "$DATABASE_URL" -X -A -t -c 'SELECT count(*) FROM schema_migrations')"
[[ "$n_rows" == "$n_files" ]] || fail "schema_migrations has $n_rows rows for $n_files files"
DATABASE_URL="$DATABASE_URL" "$MIGRATE" --status --dir "$TP_SOURCE_DIR/db/migrations" >/dev/null 2>&1 \
  || fail "tp-migrate --status reports a problem"
pass "$n_files migration(s) applied with matching checksums"

# --- 5. tp-migrate against a scratch database ---
SCRATCH_DB="tp_migrate_scratch_$$"
MDIR="$(mktemp -d /tmp/tp-migrate-it-XXXXXX)"
cleanup() {
  psql "$TP_PG_ADMIN_URL" -X -q -c "DROP DATABASE IF EXISTS $SCRATCH_DB" >/dev/null 2>&1 || true
  rm -rf "$MDIR"
}
trap cleanup EXIT
psql "$TP_PG_ADMIN_URL" -X -q -c "CREATE DATABASE $SCRATCH_DB" >/dev/null || fail "cannot create scratch database"
SCRATCH_URL="${TP_PG_ADMIN_URL%/*}/$SCRATCH_DB"
sq() { psql "$SCRATCH_URL" -X -A -t -c "$1"; }
mig() { DATABASE_URL="$SCRATCH_URL" "$MIGRATE" --dir "$MDIR"; }

cat >"$MDIR/001_widgets.sql" <<'SQL'
CREATE TABLE widgets (id int PRIMARY KEY);
INSERT INTO widgets VALUES (1);
SQL
# Sleeps so that concurrent runs overlap.
cat >"$MDIR/002_slow.sql" <<'SQL'
SELECT pg_sleep(1);
ALTER TABLE widgets ADD COLUMN name text;
SQL
mig 2>/dev/null & p1=$!
mig 2>/dev/null & p2=$!
wait "$p1" || fail "first of two concurrent tp-migrate runs failed"
wait "$p2" || fail "second of two concurrent tp-migrate runs failed"
[[ "$(sq 'SELECT string_agg(version::text, $$,$$ ORDER BY version) FROM schema_migrations')" == "1,2" ]] \
  || fail "concurrent runs did not record 1,2 exactly once"
[[ "$(sq 'SELECT count(*) FROM widgets')" == 1 ]] || fail "001 ran more than once"
mig 2>/dev/null || fail "re-running an up-to-date tp-migrate failed"
pass "tp-migrate applies in order, serialises concurrent runs, re-runs as a no-op"

cat >"$MDIR/003_broken.sql" <<'SQL'
CREATE TABLE gadgets (id int);
SELEC 1;
SQL
if mig 2>/dev/null; then fail "a migration with a syntax error succeeded"; fi
[[ "$(sq "SELECT to_regclass('gadgets') IS NULL")" == t ]] || fail "a failed migration left its table behind"
[[ "$(sq 'SELECT count(*) FROM schema_migrations WHERE version = 3')" == 0 ]] || fail "a failed migration was recorded"
rm "$MDIR/003_broken.sql"

printf 'CREATE TABLE sneaky (id int);\nCOMMIT;\n' >"$MDIR/003_commit.sql"
out="$(mig 2>&1)" && fail "a migration containing COMMIT was accepted"
[[ "$out" == *"ends the transaction itself"* ]] || fail "COMMIT inside a file: unexpected message: $out"
[[ "$(sq 'SELECT count(*) FROM schema_migrations WHERE version = 3')" == 0 ]] || fail "the COMMIT file was recorded"
rm "$MDIR/003_commit.sql"
sq 'DROP TABLE IF EXISTS sneaky' >/dev/null
pass "tp-migrate rolls back a failing file and refuses one that commits by itself"

echo '-- edited after it was applied' >>"$MDIR/001_widgets.sql"
out="$(mig 2>&1)" && fail "tp-migrate accepted a changed applied migration"
[[ "$out" == *"must not change"* ]] || fail "changed checksum: unexpected message: $out"
if DATABASE_URL="$SCRATCH_URL" "$MIGRATE" --status --dir "$MDIR" >"$MDIR/status.out" 2>/dev/null; then
  fail "tp-migrate --status exit 0 despite a changed file"
fi
grep -q 'CHANGED' "$MDIR/status.out" || fail "--status does not show CHANGED: $(cat "$MDIR/status.out")"
sed -i '$d' "$MDIR/001_widgets.sql"
mig 2>/dev/null || fail "restoring the file did not make tp-migrate happy again"

echo 'CREATE TABLE later (id int);' >"$MDIR/004_later.sql"
mig 2>/dev/null || fail "applying 004 failed"
echo 'CREATE TABLE late (id int);' >"$MDIR/003_late.sql"
out="$(mig 2>&1)" && fail "tp-migrate applied a file numbered below the newest applied one"
[[ "$out" == *"renumber it"* ]] || fail "out of order: unexpected message: $out"
[[ "$(sq "SELECT to_regclass('late') IS NULL")" == t ]] || fail "the out-of-order file ran"
pass "tp-migrate refuses changed and out-of-order migrations"

# --- 6. services and component restarts ---
for u in TP_INGEST_URL TP_QUERY_URL TP_PROCESSOR_URL TP_LIVE_URL; do
  [[ -n "${!u:-}" ]] || continue
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${!u}/readyz")"
  [[ "$code" == 200 ]] || fail "$u=${!u}: GET /readyz -> $code"
  pass "$u ready"
done

# kinesis-local writes its snapshot on SIGTERM only once its clients are gone (see
# scripts/lib/stack_aws.sh), as on `make down`: stop our services around its restart.
running=()
bash "$TP_STACK_SH" status >"$MDIR/stack-status.out" 2>&1 || true
for svc in live-feed query-api stream-processor ingest-api; do
  if awk -v s="$svc" '$1 == s && ($2 == "up" || $2 == "unready") {f = 1} END {exit !f}' "$MDIR/stack-status.out"; then
    running+=("$svc")
  fi
done
((${#running[@]} > 0)) || fail "no service of the stack is running: $(cat "$MDIR/stack-status.out")"
marker="persist-$$-$RANDOM"
put="$(kinesis PutRecord "{\"StreamName\":\"tenants\",\"PartitionKey\":\"$marker\",\"Data\":\"$(printf %s "$marker" | base64)\"}")" \
  || fail "PutRecord before the restart failed: $put"
for svc in "${running[@]}"; do
  bash "$TP_STACK_SH" stop-component "$svc" >/dev/null 2>&1 || fail "stack.sh stop-component $svc failed"
done
bash "$TP_STACK_SH" stop-component kinesis >/dev/null 2>&1 || fail "stack.sh stop-component kinesis failed"
if kinesis ListStreams '{}' >/dev/null 2>&1; then fail "kinesis-local still answers after stop-component"; fi
bash "$TP_STACK_SH" start-component kinesis >/dev/null 2>&1 || fail "stack.sh start-component kinesis failed"
check_streams
it="$(kinesis GetShardIterator "{\"StreamName\":\"tenants\",\"ShardId\":\"$(jq -r .ShardId <<<"$put")\",\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"$(jq -r .SequenceNumber <<<"$put")\"}")" \
  || fail "the record put before the restart is gone: $it"
got="$(kinesis GetRecords "{\"ShardIterator\":\"$(jq -r .ShardIterator <<<"$it")\",\"Limit\":1}")" || fail "GetRecords failed: $got"
[[ "$(jq -r '.Records[0].Data // ""' <<<"$got" | base64 -d)" == "$marker" ]] \
  || fail "the record put before the restart came back different: $got"
for svc in "${running[@]}"; do
  bash "$TP_STACK_SH" start-component "$svc" >/dev/null 2>&1 || fail "stack.sh start-component $svc failed"
done
bash "$TP_STACK_SH" stop-component s3 >/dev/null 2>&1 || fail "stack.sh stop-component s3 failed"
bash "$TP_STACK_SH" start-component s3 >/dev/null 2>&1 || fail "stack.sh start-component s3 failed"
check_bucket
pass "kinesis-local and s3rver keep streams, records and bucket across stop/start"
# Services may take a moment to see the emulators again.
for ((i = 0; ; i++)); do
  bash "$TP_STACK_SH" status >"$MDIR/stack-status.out" 2>&1 && break
  ((i < 60)) || fail "stack.sh status reports a component down after the restarts: $(cat "$MDIR/stack-status.out")"
  sleep 0.5
done
echo "test_stack: all checks passed"
