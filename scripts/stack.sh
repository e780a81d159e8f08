#!/usr/bin/env bash
# stack.sh — the local tenantpulse stack: PostgreSQL, kinesis-local, s3rver and the services built.
#
#   stack.sh up                       start everything (idempotent); write <run>/stack.env
#   stack.sh down                     stop what this run dir started (pid files, cmdline checked)
#   stack.sh status                   what runs, where; exit 1 if a component is down
#   stack.sh env                      print <run>/stack.env
#   stack.sh restart-service <svc>    stop (if running) and start one service, wait for /readyz
#   stack.sh stop-component <c>       c: pg | kinesis | s3 | <svc>
#   stack.sh start-component <c>      start one component again (after stop-component or a kill -9)
#   stack.sh clean                    down, then delete the run dir and the cluster's files
#
# Environment (read by `up`, remembered in <run>/stack.conf for the other commands):
#   TP_RUN_DIR      run directory (default .run)             TP_PORT_OFFSET  added to every port (default 0)
#   TP_BUILD_DIR    where the binaries are (default build/release)   TP_SHARDS  shards per stream (default 2)
# Ports (+offset): PostgreSQL 55432, kinesis-local 4568 (TLS 4567), s3rver 4569, ingest-api 8081,
# query-api 8082, stream-processor 8083, live-feed 8084, model 8085.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/stack_pg.sh
source "$ROOT/scripts/lib/stack_pg.sh"
# shellcheck source=scripts/lib/stack_aws.sh
source "$ROOT/scripts/lib/stack_aws.sh"
# shellcheck source=scripts/lib/stack_services.sh
source "$ROOT/scripts/lib/stack_services.sh"

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

RUN_DIR="$(abspath "${TP_RUN_DIR:-$ROOT/.run}")"
RUN_DIR="${RUN_DIR%/}"
CONF="$RUN_DIR/stack.conf"
STACK_ENV="$RUN_DIR/stack.env"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"

# Settings: `up` takes them from the environment; every other command from what `up` recorded,
# so a test that sourced some other stack.env still acts on this run dir's stack.
load_settings() {
  local from_env="$1" C_OFFSET="" C_BUILD="" C_SHARDS=""
  if [[ "$from_env" == 0 && -r "$CONF" ]]; then
    # shellcheck disable=SC1090
    source "$CONF"
    PORT_OFFSET="$C_OFFSET"
    BUILD_DIR="$C_BUILD"
    SHARDS="$C_SHARDS"
  else
    PORT_OFFSET="${TP_PORT_OFFSET:-0}"
    BUILD_DIR="$(abspath "${TP_BUILD_DIR:-$ROOT/build/release}")"
    SHARDS="${TP_SHARDS:-2}"
  fi
  [[ "$PORT_OFFSET" =~ ^[0-9]+$ && "$PORT_OFFSET" -le 9000 ]] || die "TP_PORT_OFFSET=$PORT_OFFSET: want 0..9000"
  [[ "$SHARDS" =~ ^[0-9]+$ && "$SHARDS" -ge 1 && "$SHARDS" -le 50 ]] || die "TP_SHARDS=$SHARDS: want 1..50"
  BUILD_DIR="${BUILD_DIR%/}"
  PG_PORT=$((55432 + PORT_OFFSET))
  KINESIS_PORT=$((4568 + PORT_OFFSET))
  KINESIS_TLS_PORT=$((4567 + PORT_OFFSET))
  S3_PORT=$((4569 + PORT_OFFSET))
  MODEL_PORT=$((8085 + PORT_OFFSET))
}

save_settings() {
  printf 'C_OFFSET=%q\nC_BUILD=%q\nC_SHARDS=%q\n' "$PORT_OFFSET" "$BUILD_DIR" "$SHARDS" >"$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}

# Serialise commands that change this run dir (two `up`s at once would race on everything).
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.stack.lock"
  flock -w 600 9 || die "another stack.sh holds $RUN_DIR/.stack.lock"
}

anything_running() {
  local s
  [[ -s "$RUN_DIR/pg.path" ]] && { pg_resolve_base; pg_running && return 0; }
  pidfile_pid "$PID_DIR/kinesis.pid" "$KINESIS_MARKER" >/dev/null && return 0
  pidfile_pid "$PID_DIR/s3.pid" "$S3_MARKER" >/dev/null && return 0
  for s in $(svc_names); do
    svc_lookup "$s"
    pidfile_pid "$PID_DIR/$s.pid" "$SVC_BIN" >/dev/null && return 0
  done
  return 1
}

write_stack_env() {
  local s
  q() { printf 'export %s=%q\n' "$1" "$2"; }
  {
    echo "# tenantpulse local stack — written by scripts/stack.sh up; source it: . $STACK_ENV"
    q TP_RUN_DIR "$RUN_DIR"
    q TP_PORT_OFFSET "$PORT_OFFSET"
    q TP_SHARDS "$SHARDS"
    q TP_STACK_BUILD_DIR "$BUILD_DIR"
    q TP_STACK_SH "$ROOT/scripts/stack.sh"
    q TP_PG_PORT "$PG_PORT"
    q DATABASE_URL "$DATABASE_URL_APP"
    if [[ -n "$READONLY_URL" ]]; then q TP_READONLY_DATABASE_URL "$READONLY_URL"; fi
    q TP_PG_ADMIN_URL "postgresql://$PG_SUPERUSER:$PG_SUPER_PW@127.0.0.1:$PG_PORT/postgres"
    q AWS_REGION "$AWS_REGION_NAME"
    q AWS_DEFAULT_REGION "$AWS_REGION_NAME"
    q AWS_ACCESS_KEY_ID "$AWS_KEY"
    q AWS_SECRET_ACCESS_KEY "$AWS_SECRET"
    q TP_KINESIS_PORT "$KINESIS_PORT"
    q AWS_ENDPOINT_URL_KINESIS "http://127.0.0.1:$KINESIS_PORT"
    q TP_S3_PORT "$S3_PORT"
    q AWS_ENDPOINT_URL_S3 "http://127.0.0.1:$S3_PORT"
    q TP_ARCHIVE_BUCKET "$ARCHIVE_BUCKET"
    q TP_STREAMS "${STREAMS[*]}"
    q TP_SPOOL_DIR "$RUN_DIR/spool"
    q TP_SERVICE_TOKEN "$SERVICE_TOKEN"
    q TP_ADMIN_TOKEN "$ADMIN_TOKEN"
    q TP_MODEL_PORT "$MODEL_PORT"
    for s in $(svc_names); do
      svc_lookup "$s"
      q "$SVC_PORTVAR" "$SVC_PORT"
      if [[ -x "$SVC_BIN" ]]; then q "$SVC_URLVAR" "http://127.0.0.1:$SVC_PORT"; fi
    done
  } >"$STACK_ENV.tmp"
  chmod 600 "$STACK_ENV.tmp"
  mv "$STACK_ENV.tmp" "$STACK_ENV"
}

# Bring up PostgreSQL (+ role, database, migrations); sets DATABASE_URL_APP.
pg_component_up() {
  local migrate="$BUILD_DIR/tools/migrate/tp-migrate"
  [[ -x "$migrate" ]] || die "$migrate not built: run make build (or point TP_BUILD_DIR at a build)"
  pg_start
  pg_setup_db
  DATABASE_URL_APP="postgresql://$PG_ROLE:$PG_APP_PW@127.0.0.1:$PG_PORT/$PG_DB"
  say "pg: migrating ($ROOT/db/migrations)"
  DATABASE_URL="$DATABASE_URL_APP" "$migrate" --dir "$ROOT/db/migrations" </dev/null 2>>"$LOG_DIR/migrate.log" \
    || { log_tail "$LOG_DIR/migrate.log" 10; die "tp-migrate failed"; }
  pg_readonly_url
}

cmd_up() {
  load_settings 1
  take_lock
  if [[ -r "$CONF" ]]; then
    local C_OFFSET="" C_BUILD="" C_SHARDS=""
    # shellcheck disable=SC1090
    source "$CONF"
    if [[ "$C_OFFSET" != "$PORT_OFFSET" || "$C_BUILD" != "$BUILD_DIR" ]] && anything_running; then
      die "$RUN_DIR is up with TP_PORT_OFFSET=$C_OFFSET TP_BUILD_DIR=$C_BUILD: stack.sh down first"
    fi
  fi
  mkdir -p "$LOG_DIR" "$PID_DIR" "$RUN_DIR/spool"
  save_settings
  need_node_modules
  local t0=$SECONDS s
  say "stack: up in $RUN_DIR (port offset $PORT_OFFSET, build $BUILD_DIR, $SHARDS shards)"
  # The emulators start in the background while PostgreSQL initialises.
  kinesis_spawn
  s3_spawn
  pg_component_up
  kinesis_wait
  kinesis_ensure_streams
  s3_wait
  s3_ensure_bucket
  keys_ensure
  write_stack_env
  for s in $(svc_names); do svc_start "$s"; done
  say "stack: ready in $((SECONDS - t0))s — source $STACK_ENV"
}

cmd_down() {
  load_settings 0
  [[ -d "$RUN_DIR" ]] || { say "stack: nothing in $RUN_DIR"; return 0; }
  take_lock
  local s
  # Services first (they flush to the infrastructure), in reverse start order.
  for s in $(svc_names | tac); do svc_stop "$s"; done
  if pidfile_pid "$PID_DIR/s3.pid" "$S3_MARKER" >/dev/null; then say "s3: stopping"; fi
  stop_pidfile "$PID_DIR/s3.pid" "$S3_MARKER" 10
  if pidfile_pid "$PID_DIR/kinesis.pid" "$KINESIS_MARKER" >/dev/null; then say "kinesis: stopping"; fi
  # kinesis-local persists its data on SIGTERM; give it time to finish writing.
  stop_pidfile "$PID_DIR/kinesis.pid" "$KINESIS_MARKER" "$KINESIS_STOP_TIMEOUT"
  pg_stop
  say "stack: down ($RUN_DIR)"
}

cmd_clean() {
  cmd_down
  local base=""
  [[ -s "$RUN_DIR/pg.path" ]] && base="$(cat "$RUN_DIR/pg.path")"
  if [[ "$base" == /var/tmp/tenantpulse-pg-* ]]; then
    rm -rf "$base"
  fi
  rm -rf "$RUN_DIR"
  say "stack: removed $RUN_DIR${base:+ and $base}"
}

status_line() { printf '%-17s %-8s %-8s %s\n' "$@"; }

cmd_status() {
  load_settings 0
  local down=0 pid="" s out n
  if [[ ! -r "$CONF" ]]; then
    say "stack: not set up in $RUN_DIR (run: make up)"
    return 1
  fi
  status_line COMPONENT STATE PID WHERE
  if [[ -s "$RUN_DIR/pg.path" ]] && { pg_resolve_base; pg_running; } && pg_load_secrets \
      && pg_psql_super -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
    status_line postgres up "$(pg_postmaster_pid)" "127.0.0.1:$PG_PORT data=$PGDATA_DIR"
  else
    status_line postgres down - "127.0.0.1:$PG_PORT"
    down=1
  fi
  if pid="$(pidfile_pid "$PID_DIR/kinesis.pid" "$KINESIS_MARKER")"; then
    out="$(kinesis_call ListStreams '{}')"
    n="$(http_body_of "$out" | jq -r '.StreamNames | join(",")' 2>/dev/null || echo '?')"
    if [[ "$(http_status_of "$out")" == 200 ]]; then
      status_line kinesis-local up "$pid" "http://127.0.0.1:$KINESIS_PORT streams=$n"
    else
      status_line kinesis-local unready "$pid" "http://127.0.0.1:$KINESIS_PORT"
      down=1
    fi
  else
    status_line kinesis-local down - "http://127.0.0.1:$KINESIS_PORT"
    down=1
  fi
  pid=""
  if pid="$(pidfile_pid "$PID_DIR/s3.pid" "$S3_MARKER")" && [[ "$(http_status_of "$(s3_call GET /)")" == 200 ]]; then
    status_line s3rver up "$pid" "http://127.0.0.1:$S3_PORT bucket=$ARCHIVE_BUCKET"
  else
    status_line s3rver down "${pid:--}" "http://127.0.0.1:$S3_PORT"
    down=1
  fi
  for s in $(svc_names); do
    svc_lookup "$s"
    if [[ ! -x "$SVC_BIN" ]]; then
      status_line "$s" unbuilt - "$SVC_BIN"
    elif pid="$(pidfile_pid "$PID_DIR/$s.pid" "$SVC_BIN")"; then
      if svc_ready; then
        status_line "$s" up "$pid" "http://127.0.0.1:$SVC_PORT"
      else
        status_line "$s" unready "$pid" "http://127.0.0.1:$SVC_PORT (GET /readyz not 200)"
        down=1
      fi
    else
      status_line "$s" down - "http://127.0.0.1:$SVC_PORT"
      down=1
    fi
  done
  if [[ $down == 0 && -f "$STACK_ENV" ]]; then say "env: source $STACK_ENV"; fi
  return "$down"
}

# Re-derive what `up` computed, for commands that start one piece of a stack that is up.
load_stack_state() {
  load_settings 0
  [[ -r "$CONF" && -r "$STACK_ENV" ]] || die "no stack in $RUN_DIR: run 'stack.sh up' first"
  mkdir -p "$LOG_DIR" "$PID_DIR"
}

cmd_start_component() {
  local c="${1:-}"
  [[ -n "$c" ]] || die "start-component needs a component: pg | kinesis | s3 | $(svc_names | tr '\n' ' ')"
  load_stack_state
  take_lock
  case "$c" in
    pg | postgres) pg_start ;;
    kinesis) need_node_modules; kinesis_spawn; kinesis_wait; say "kinesis: ready" ;;
    s3) need_node_modules; s3_spawn; s3_wait; say "s3: ready" ;;
    *) svc_start "$c" ;;
  esac
}

cmd_stop_component() {
  local c="${1:-}"
  [[ -n "$c" ]] || die "stop-component needs a component: pg | kinesis | s3 | $(svc_names | tr '\n' ' ')"
  load_stack_state
  take_lock
  case "$c" in
    pg | postgres) pg_stop ;;
    kinesis) say "kinesis: stopping"; stop_pidfile "$PID_DIR/kinesis.pid" "$KINESIS_MARKER" "$KINESIS_STOP_TIMEOUT" ;;
    s3) say "s3: stopping"; stop_pidfile "$PID_DIR/s3.pid" "$S3_MARKER" 10 ;;
    *) svc_stop "$c" ;;
  esac
}

cmd_restart_service() {
  local c="${1:-}"
  [[ -n "$c" ]] || die "restart-service needs a service: $(svc_names | tr '\n' ' ')"
  load_stack_state
  take_lock
  svc_stop "$c"
  svc_start "$c"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  clean) cmd_clean ;;
  status) cmd_status ;;
  env) [[ -r "$STACK_ENV" ]] || die "no $STACK_ENV (stack.sh up first)"; cat "$STACK_ENV" ;;
  start-component) cmd_start_component "${2:-}" ;;
  stop-component) cmd_stop_component "${2:-}" ;;
  restart-service) cmd_restart_service "${2:-}" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
