# shellcheck shell=bash
# stack_services.sh — tenantpulse's own services and API keys (sourced by stack.sh).
#
# A service runs if its binary exists in the build dir; one not built yet is skipped with a
# message. Each gets the environment of stack.env plus its port, logs to <run>/logs/<svc>.log
# and is ready when GET /readyz answers 200.

# name | binary (relative to the build dir) | port variable | base port | URL variable in stack.env
SERVICES=(
  "ingest-api|services/ingest-api/tp-ingest-api|TP_INGEST_PORT|8081|TP_INGEST_URL"
  "stream-processor|services/stream-processor/tp-stream-processor|TP_PROCESSOR_PORT|8083|TP_PROCESSOR_URL"
  "query-api|services/query-api/tp-query-api|TP_QUERY_PORT|8082|TP_QUERY_URL"
  "live-feed|services/live-feed/tp-live-feed|TP_LIVEFEED_PORT|8084|TP_LIVE_URL"
)

# svc_lookup <name or short alias>: sets SVC_NAME SVC_BIN SVC_PORTVAR SVC_PORT SVC_URLVAR.
svc_lookup() {
  local want="$1" row name bin portvar base urlvar
  case "$want" in
    ingest) want=ingest-api ;;
    processor | stream) want=stream-processor ;;
    query) want=query-api ;;
    livefeed | feed) want=live-feed ;;
  esac
  for row in "${SERVICES[@]}"; do
    IFS='|' read -r name bin portvar base urlvar <<<"$row"
    if [[ "$name" == "$want" ]]; then
      SVC_NAME="$name"
      SVC_BIN="$BUILD_DIR/$bin"
      SVC_PORTVAR="$portvar"
      SVC_PORT=$((base + PORT_OFFSET))
      SVC_URLVAR="$urlvar"
      return 0
    fi
  done
  return 1
}

svc_names() {
  local row
  for row in "${SERVICES[@]}"; do printf '%s\n' "${row%%|*}"; done
}

svc_ready() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$SVC_PORT/readyz" 2>/dev/null)" == 200 ]]
}

svc_start() {
  svc_lookup "$1" || die "unknown service '$1' (one of: $(svc_names | tr '\n' ' '))"
  local pid i timeout="${TP_READY_TIMEOUT:-120}"
  if [[ ! -x "$SVC_BIN" ]]; then
    say "$SVC_NAME: not built ($SVC_BIN missing): skipped"
    return 0
  fi
  [[ -f "$STACK_ENV" ]] || die "$SVC_NAME: $STACK_ENV missing: run 'stack.sh up' first"
  if pid="$(pidfile_pid "$PID_DIR/$SVC_NAME.pid" "$SVC_BIN")"; then
    say "$SVC_NAME: already running (pid $pid, port $SVC_PORT)"
  else
    port_busy "$SVC_PORT" && die "$SVC_NAME: port $SVC_PORT is already in use by another process"
    say "$SVC_NAME: starting on 127.0.0.1:$SVC_PORT"
    # A subshell so stack.env's exports reach the service and nothing else here.
    (
      set -a
      # shellcheck disable=SC1090
      source "$STACK_ENV"
      set +a
      export "$SVC_PORTVAR=$SVC_PORT"
      spawn_daemon "$PID_DIR/$SVC_NAME.pid" "$LOG_DIR/$SVC_NAME.log" "$RUN_DIR" "$SVC_BIN"
    )
  fi
  for ((i = 0; i < timeout * 5; i++)); do
    svc_ready && {
      say "$SVC_NAME: ready at http://127.0.0.1:$SVC_PORT"
      return 0
    }
    if ! pidfile_pid "$PID_DIR/$SVC_NAME.pid" "$SVC_BIN" >/dev/null; then
      log_tail "$LOG_DIR/$SVC_NAME.log"
      die "$SVC_NAME: exited before it was ready"
    fi
    sleep 0.2
  done
  log_tail "$LOG_DIR/$SVC_NAME.log"
  die "$SVC_NAME: GET /readyz not 200 after ${timeout}s"
}

svc_stop() {
  svc_lookup "$1" || die "unknown service '$1' (one of: $(svc_names | tr '\n' ' '))"
  if pidfile_pid "$PID_DIR/$SVC_NAME.pid" "$SVC_BIN" >/dev/null; then
    say "$SVC_NAME: stopping"
    # Generous: a service drains in-flight requests and flushes its spool/checkpoints on SIGTERM.
    stop_pidfile "$PID_DIR/$SVC_NAME.pid" "$SVC_BIN" "${TP_STOP_TIMEOUT:-30}"
  else
    rm -f "$PID_DIR/$SVC_NAME.pid"
  fi
}

# --- API keys ---

keys_tool() {
  local t
  for t in "$BUILD_DIR/tools/keys/tp-keys" "$BUILD_DIR/services/query-api/tp-keys" "$BUILD_DIR/tp-keys"; do
    [[ -x "$t" ]] && { printf '%s\n' "$t"; return 0; }
  done
  t="$(find "$BUILD_DIR" -maxdepth 4 -type f -name tp-keys -perm -u+x 2>/dev/null | head -n1)"
  [[ -n "$t" ]] && { printf '%s\n' "$t"; return 0; }
  return 1
}

# Prints the key of a new all-tenants key with the given scopes (comma-separated).
keys_create() {
  local tool="$1" scopes="$2" out key
  out="$(DATABASE_URL="$DATABASE_URL_APP" "$tool" create --all-tenants --scopes "$scopes" \
    --description "local stack ($scopes)" </dev/null)" \
    || die "tp-keys create --scopes $scopes failed"
  key="$(jq -r '.key // empty' <<<"$out" 2>/dev/null || true)"
  [[ "$key" == tp_* ]] || die "tp-keys printed no key: $out"
  printf '%s\n' "$key"
}

# A remembered key is reused if the cluster is the same one it was made in and, when the
# api_keys table can say so, the key is still there and not revoked.
key_still_valid() {
  local key="$1" kid n
  [[ "$key" =~ ^tp_([0-9a-f]{16})_ ]] || return 1
  kid="${BASH_REMATCH[1]}"
  if n="$(pg_psql_super_script -d "$PG_DB" -A -t -v kid="$kid" 2>/dev/null \
      <<<"SELECT count(*) FROM api_keys WHERE key_id = :'kid' AND revoked_at IS NULL;")"; then
    [[ "$n" == 1 ]]
  else
    return 0 # a schema we cannot query this way: the same cluster is enough
  fi
}

keys_ensure() {
  local tool file="$RUN_DIR/tokens.env" sysid
  SERVICE_TOKEN=""
  ADMIN_TOKEN=""
  sysid="$(pg_system_id)"
  if [[ -r "$file" ]]; then
    local TOK_SERVICE="" TOK_ADMIN="" TOK_SYSID=""
    # shellcheck disable=SC1090
    source "$file"
    if [[ "$TOK_SYSID" == "$sysid" ]] && key_still_valid "$TOK_SERVICE" && key_still_valid "$TOK_ADMIN"; then
      SERVICE_TOKEN="$TOK_SERVICE"
      ADMIN_TOKEN="$TOK_ADMIN"
      say "keys: reusing TP_SERVICE_TOKEN and TP_ADMIN_TOKEN"
      return 0
    fi
  fi
  if ! tool="$(keys_tool)"; then
    say "keys: tp-keys not built yet: TP_SERVICE_TOKEN / TP_ADMIN_TOKEN left empty"
    return 0
  fi
  SERVICE_TOKEN="$(keys_create "$tool" events:write)"
  ADMIN_TOKEN="$(keys_create "$tool" admin,read,events:write)"
  (
    umask 077
    printf 'TOK_SERVICE=%q\nTOK_ADMIN=%q\nTOK_SYSID=%q\n' "$SERVICE_TOKEN" "$ADMIN_TOKEN" "$sysid" >"$file"
  )
  say "keys: created TP_SERVICE_TOKEN (events:write) and TP_ADMIN_TOKEN (admin, read, events:write)"
}
