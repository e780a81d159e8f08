# shellcheck shell=bash
# stack_pg.sh — the stack's throwaway PostgreSQL cluster (sourced by stack.sh).
#
# The cluster runs as a non-root user: as root, the `postgres` account through runuser, with
# its files somewhere that account can reach (the run dir if it can, else
# /var/tmp/tenantpulse-pg-<hash of run dir>/, recorded in <run>/pg.path). Passwords are made
# at initdb time and kept beside the data (tp-secrets.env), so they live and die with it.
# Listens on 127.0.0.1 only, no Unix socket, password (SCRAM) authentication.

PG_SUPERUSER=postgres
PG_DB=tenantpulse
PG_ROLE=tenantpulse
PG_RO_ROLE=tenantpulse_ro

pg_bin_dir() {
  local d
  if [[ -n "${TP_PG_BIN:-}" ]]; then
    printf '%s\n' "$TP_PG_BIN"
    return
  fi
  # Debian keeps initdb/pg_ctl off PATH, under /usr/lib/postgresql/<major>/bin.
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then
    printf '%s\n' "$d"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  else
    die "PostgreSQL server binaries (initdb) not found: run make deps"
  fi
}

# Run a command as the cluster's OS user, closing our lock descriptor first.
pg_as_owner() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@" 9>&- 8>&-
  else
    "$@" 9>&- 8>&-
  fi
}

# Decide (once per run dir) where the cluster's files live; sets PG_BASE and PGDATA_DIR.
pg_resolve_base() {
  local record="$RUN_DIR/pg.path" hash
  if [[ -s "$record" ]]; then
    PG_BASE="$(cat "$record")"
  else
    PG_BASE="$RUN_DIR/pg"
    mkdir -p "$PG_BASE"
    if [[ $EUID -eq 0 ]]; then
      id postgres >/dev/null 2>&1 || die "no 'postgres' user: install the postgresql package (make deps)"
      chown postgres:postgres "$PG_BASE"
      chmod 700 "$PG_BASE"
      if ! runuser -u postgres -- test -w "$PG_BASE" -a -x "$PG_BASE" 2>/dev/null; then
        # e.g. a clone under /root: postgres cannot traverse the parents.
        rm -rf "$PG_BASE"
        hash="$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-12)"
        PG_BASE="/var/tmp/tenantpulse-pg-$hash"
        mkdir -p "$PG_BASE"
        chown postgres:postgres "$PG_BASE"
        chmod 700 "$PG_BASE"
        say "pg: $RUN_DIR is not reachable by the postgres user; cluster files in $PG_BASE"
      fi
    fi
    printf '%s\n' "$PG_BASE" >"$record"
  fi
  PGDATA_DIR="$PG_BASE/data"
}

pg_secrets_file() { printf '%s\n' "$PG_BASE/tp-secrets.env"; }

random_password() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }

pg_load_secrets() {
  local f
  f="$(pg_secrets_file)"
  [[ -r "$f" ]] || return 1
  # shellcheck disable=SC1090
  source "$f"
  [[ -n "${PG_SUPER_PW:-}" && -n "${PG_APP_PW:-}" && -n "${PG_RO_PW:-}" ]]
}

pg_initdb() {
  local bin="$1" pwfile="$PG_BASE/.pwfile" secrets old_umask
  secrets="$(pg_secrets_file)"
  old_umask="$(umask)"
  PG_SUPER_PW="$(random_password)"
  PG_APP_PW="$(random_password)"
  PG_RO_PW="$(random_password)"
  umask 077
  printf '%s\n' "$PG_SUPER_PW" >"$pwfile"
  [[ $EUID -eq 0 ]] && chown postgres:postgres "$pwfile"
  say "pg: initdb $PGDATA_DIR"
  if ! pg_as_owner "$bin/initdb" -D "$PGDATA_DIR" -U "$PG_SUPERUSER" --pwfile="$pwfile" -E UTF8 --no-locale \
      --auth-host=scram-sha-256 --auth-local=scram-sha-256 -N >"$RUN_DIR/logs/initdb.log" 2>&1 </dev/null; then
    rm -f "$pwfile"
    log_tail "$RUN_DIR/logs/initdb.log"
    die "initdb failed"
  fi
  rm -f "$pwfile"
  printf 'PG_SUPER_PW=%q\nPG_APP_PW=%q\nPG_RO_PW=%q\n' "$PG_SUPER_PW" "$PG_APP_PW" "$PG_RO_PW" >"$secrets"
  umask "$old_umask"
  # Our settings live in their own file, rewritten at every start (the port may change).
  printf "include_if_exists = 'tenantpulse.conf'\n" | pg_as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
}

pg_write_conf() {
  # fsync off: this cluster is throwaway; a crash of the postgres process still loses nothing.
  pg_as_owner tee "$PGDATA_DIR/tenantpulse.conf" >/dev/null <<EOF
# written by scripts/stack.sh at every start; edits are lost
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 200
fsync = off
log_line_prefix = '%m [%p] %u@%d '
log_min_duration_statement = 2000
EOF
}

pg_running() {
  local bin
  bin="$(pg_bin_dir)"
  [[ -f "$PGDATA_DIR/postmaster.pid" ]] || return 1
  pg_as_owner "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1 </dev/null
}

pg_postmaster_pid() {
  [[ -f "$PGDATA_DIR/postmaster.pid" ]] && head -n1 "$PGDATA_DIR/postmaster.pid"
}

pg_psql_super() {
  PGPASSWORD="$PG_SUPER_PW" PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U "$PG_SUPERUSER" "$@" </dev/null
}

pg_start() {
  local bin
  bin="$(pg_bin_dir)"
  pg_resolve_base
  if [[ -f "$PGDATA_DIR/PG_VERSION" ]] && ! pg_load_secrets; then
    warn "pg: $PGDATA_DIR has no passwords beside it (tp-secrets.env): re-creating the throwaway cluster"
    pg_stop_quiet
    rm -rf "${PGDATA_DIR:?}"
  fi
  [[ -f "$PGDATA_DIR/PG_VERSION" ]] || pg_initdb "$bin"
  pg_load_secrets || die "pg: cannot read $(pg_secrets_file)"
  ln -sfn "$PG_BASE/postgres.log" "$RUN_DIR/logs/postgres.log"
  if pg_running; then
    say "pg: already running (pid $(pg_postmaster_pid), port $PG_PORT)"
  else
    port_busy "$PG_PORT" && die "pg: port $PG_PORT is already in use by another process"
    pg_write_conf
    say "pg: starting on 127.0.0.1:$PG_PORT"
    # Every descriptor redirected: the postmaster inherits them and would hold a pipe open.
    if ! pg_as_owner "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$PG_BASE/postgres.log" -w -t 60 start \
        </dev/null >>"$RUN_DIR/logs/pg_ctl.log" 2>&1; then
      log_tail "$PG_BASE/postgres.log"
      die "pg: pg_ctl start failed"
    fi
  fi
  local i
  for ((i = 0; i < 100; i++)); do
    pg_psql_super -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.2
  done
  pg_psql_super -d postgres -c 'SELECT 1' >/dev/null || die "pg: not accepting connections on port $PG_PORT"
}

# Role and database; idempotent. The app role owns the database and runs the migrations, which
# create roles of their own (006: tp_reporting, tenantpulse_ro), hence CREATEROLE. Passwords
# come from tp-secrets.env, not from input.
pg_setup_db() {
  pg_psql_super_script -d postgres -v app_pw="$PG_APP_PW" -v role="$PG_ROLE" -v db="$PG_DB" <<'SQL' \
    || die "pg: creating role/database failed"
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEROLE PASSWORD %L', :'role', :'app_pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
}

# psql reads the script from stdin here, so pg_psql_super's </dev/null must not apply.
pg_psql_super_script() {
  PGPASSWORD="$PG_SUPER_PW" PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U "$PG_SUPERUSER" "$@"
}

# After migrations: if they made the read-only login role, give it this cluster's own password
# (the migration's is a well-known development one). Sets READONLY_URL ("" when no such role).
pg_readonly_url() {
  local exists
  READONLY_URL=""
  exists="$(pg_psql_super_script -d postgres -A -t -v ro="$PG_RO_ROLE" \
    <<<"SELECT count(*) FROM pg_roles WHERE rolname = :'ro';")" || die "pg: cannot query roles"
  [[ "$exists" == 1 ]] || return 0
  pg_psql_super_script -d postgres -v ro="$PG_RO_ROLE" -v ro_pw="$PG_RO_PW" <<'SQL' >/dev/null \
    || die "pg: setting the read-only role's password failed"
SELECT format('ALTER ROLE %I PASSWORD %L', :'ro', :'ro_pw') \gexec
SQL
  READONLY_URL="postgresql://$PG_RO_ROLE:$PG_RO_PW@127.0.0.1:$PG_PORT/$PG_DB"
}

pg_system_id() {
  pg_psql_super -d postgres -A -t -c 'SELECT system_identifier FROM pg_control_system()'
}

pg_stop_quiet() {
  local bin
  bin="$(pg_bin_dir)"
  [[ -n "${PGDATA_DIR:-}" && -f "$PGDATA_DIR/postmaster.pid" ]] || return 0
  pg_as_owner "$bin/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop </dev/null >>"$RUN_DIR/logs/pg_ctl.log" 2>&1 \
    || pg_as_owner "$bin/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 30 stop </dev/null \
      >>"$RUN_DIR/logs/pg_ctl.log" 2>&1 || true
}

pg_stop() {
  [[ -s "$RUN_DIR/pg.path" ]] || return 0
  pg_resolve_base
  if pg_running; then
    say "pg: stopping (pid $(pg_postmaster_pid))"
    pg_stop_quiet
  fi
}
