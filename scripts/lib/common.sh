# shellcheck shell=bash
# common.sh — helpers shared by scripts/*.sh (sourced, not run).
# Messages go to stderr so stdout stays usable for values a caller captures.

say() { printf '%s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Absolute path of $1 (which need not exist yet), relative paths taken from the current directory.
abspath() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$(pwd)" "${1#./}" ;;
  esac
}

# 1 if a process is alive (a zombie is not: it is only waiting to be reaped).
pid_alive() {
  local pid="$1" state
  [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
  state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "$state" != "Z" && "$state" != "X" ]]
}

# True if pid is alive and its command line contains marker (guards against a recycled pid).
pid_matches() {
  local pid="$1" marker="$2"
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

# The pid recorded in a pid file, if that process is alive and is what the marker says.
pidfile_pid() {
  local file="$1" marker="$2" pid
  [[ -s "$file" ]] || return 1
  pid="$(head -n1 "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_matches "$pid" "$marker" || return 1
  printf '%s\n' "$pid"
}

# Stop the process named by a pid file: SIGTERM, then SIGKILL after timeout seconds. Only a
# process whose command line carries the marker is signalled; the pid file is removed.
stop_pidfile() {
  local file="$1" marker="$2" timeout="${3:-15}" pid i
  if ! pid="$(pidfile_pid "$file" "$marker")"; then
    rm -f "$file"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    warn "pid $pid ($marker) did not stop within ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
  fi
  rm -f "$file"
}

# Start a daemon: its own session, stdin from /dev/null, output appended to log, no inherited
# descriptors beyond 0-2 (a held lock or pipe would outlive us), pid written by the process
# itself (so it is the daemon's pid even when setsid has to fork). Remaining args: the command.
spawn_daemon() {
  local pidfile="$1" log="$2" workdir="$3"
  shift 3
  rm -f "$pidfile"
  (
    cd "$workdir" || exit 1
    exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 9>&- 8>&-
  ) &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "could not start $1 (see $log)"
}

# True if something accepts TCP connections on 127.0.0.1:port.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Last lines of a log, indented, for failure messages.
log_tail() {
  local file="$1" n="${2:-40}"
  if [[ -f "$file" ]]; then
    say "---- last $n lines of $file ----"
    tail -n "$n" "$file" | sed 's/^/  /' >&2
    say "----"
  fi
}
