# shellcheck shell=bash
# stack_aws.sh — the AWS stand-ins: kinesis-local (kinesis-mock) and s3rver (sourced by stack.sh).
#
# Both are node processes started directly (`node .../main.js`), so the recorded pid is the
# server itself. Requests are signed with curl's SigV4 using the stack's credentials
# (S3RVER/S3RVER: s3rver checks signatures against them; kinesis-local does not check).

AWS_KEY=S3RVER
AWS_SECRET=S3RVER
AWS_REGION_NAME=us-east-1
STREAMS=(tenants users jobs)
RETENTION_HOURS=168
ARCHIVE_BUCKET=tenantpulse-archive
KINESIS_MARKER="kinesis-local/main.js"
S3_MARKER="s3rver/bin/s3rver.js"

need_node_modules() {
  [[ -f "$ROOT/node_modules/kinesis-local/main.js" && -f "$ROOT/node_modules/s3rver/bin/s3rver.js" ]] \
    || die "node_modules is missing kinesis-local/s3rver: run make deps"
  command -v node >/dev/null 2>&1 || die "node is not installed: run make deps"
}

# kinesis_call <Action> <json body>: prints the body, then the HTTP status on its own last line.
kinesis_call() {
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:$AWS_REGION_NAME:kinesis" --user "$AWS_KEY:$AWS_SECRET" \
    -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: Kinesis_20131202.$1" \
    -d "$2" -w '\n%{http_code}' "http://127.0.0.1:$KINESIS_PORT/" 2>/dev/null || printf '\n000'
}

# s3_call <method> <path>: same output convention.
s3_call() {
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:$AWS_REGION_NAME:s3" --user "$AWS_KEY:$AWS_SECRET" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X "$1" -w '\n%{http_code}' "http://127.0.0.1:$S3_PORT$2" \
    2>/dev/null || printf '\n000'
}

http_status_of() { tail -n1 <<<"$1"; }
http_body_of() { sed '$d' <<<"$1"; }

# On SIGTERM kinesis-local first closes its HTTP server, which waits up to 30 s for clients'
# open connections (for ever while a client keeps using one), and only then writes its whole
# snapshot (~1 s per 10 MB here). `down` stops our services first, so it exits at once; a
# `stop-component kinesis` under running services ends in SIGKILL after this timeout and keeps
# only the last periodic snapshot.
KINESIS_STOP_TIMEOUT="${KINESIS_STOP_TIMEOUT:-45}"

kinesis_spawn() {
  local pid
  if pid="$(pidfile_pid "$PID_DIR/kinesis.pid" "$KINESIS_MARKER")"; then
    say "kinesis: already running (pid $pid, port $KINESIS_PORT)"
    return 0
  fi
  port_busy "$KINESIS_PORT" && die "kinesis: port $KINESIS_PORT is already in use by another process"
  port_busy "$KINESIS_TLS_PORT" && die "kinesis: TLS port $KINESIS_TLS_PORT is already in use by another process"
  mkdir -p "$RUN_DIR/kinesis"
  kinesis_check_snapshot "$RUN_DIR/kinesis/kinesis-data.json"
  say "kinesis: starting kinesis-local on 127.0.0.1:$KINESIS_PORT (TLS $KINESIS_TLS_PORT)"
  # Every *_DURATION at 0ms so stream operations finish at once. Persisted every
  # KINESIS_PERSIST_INTERVAL (default 300s) and on SIGTERM, so a stop/start keeps streams and
  # records. Not every second: kinesis-local 0.6.2 rewrites its whole snapshot each time and
  # answers nothing meanwhile (~1 s per 10 MB here), which held POST-to-rollup freshness
  # above 2 s at 1s (and stalls ~5 s every 30 s at 30s with 44 MB stored). The price: if
  # kinesis-local itself is killed, up to 5 minutes of records are lost (the emulator only;
  # `make down` writes everything). It can also crash if SIGTERM lands
  # while a periodic snapshot is being written (ERR_STREAM_DESTROYED), leaving a truncated
  # file: kinesis_check_snapshot handles that, and a test that stops it on purpose sets a long
  # interval so only the shutdown snapshot is written.
  spawn_daemon "$PID_DIR/kinesis.pid" "$LOG_DIR/kinesis.log" "$RUN_DIR/kinesis" env \
    KINESIS_MOCK_PLAIN_PORT="$KINESIS_PORT" KINESIS_MOCK_TLS_PORT="$KINESIS_TLS_PORT" \
    KINESIS_MOCK_CERT_PATH="$ROOT/node_modules/kinesis-local/server.json" \
    CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms REGISTER_STREAM_CONSUMER_DURATION=0ms \
    DEREGISTER_STREAM_CONSUMER_DURATION=0ms START_STREAM_ENCRYPTION_DURATION=0ms \
    STOP_STREAM_ENCRYPTION_DURATION=0ms MERGE_SHARDS_DURATION=0ms SPLIT_SHARD_DURATION=0ms \
    UPDATE_SHARD_COUNT_DURATION=0ms UPDATE_STREAM_MODE_DURATION=0ms \
    SHOULD_PERSIST_DATA=true LOAD_DATA_IF_EXISTS=true PERSIST_PATH="$RUN_DIR/kinesis" PERSIST_INTERVAL="${KINESIS_PERSIST_INTERVAL:-300s}" \
    AWS_REGION="$AWS_REGION_NAME" LOG_LEVEL="${TP_KINESIS_LOG_LEVEL:-WARN}" \
    node "$ROOT/node_modules/kinesis-local/main.js"
}

# A snapshot that is not whole JSON makes kinesis-local exit at start-up; keep it aside for a
# post-mortem and start empty (streams are re-created) rather than refuse to start.
kinesis_check_snapshot() {
  local f="$1" aside
  [[ -e "$f" ]] || return 0
  [[ -s "$f" ]] && python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null && return 0
  aside="$f.corrupt-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$f" "$aside"
  warn "kinesis: the persisted data $f is not valid JSON (an interrupted snapshot); moved to $aside, starting with empty streams"
}

kinesis_wait() {
  local i out pid
  for ((i = 0; i < 600; i++)); do
    out="$(kinesis_call ListStreams '{}')"
    [[ "$(http_status_of "$out")" == 200 ]] && return 0
    if ! pid="$(pidfile_pid "$PID_DIR/kinesis.pid" "$KINESIS_MARKER")"; then
      log_tail "$LOG_DIR/kinesis.log"
      die "kinesis: kinesis-local exited during start-up"
    fi
    sleep 0.1
  done
  log_tail "$LOG_DIR/kinesis.log"
  die "kinesis: not answering on port $KINESIS_PORT after 60s"
}

# describe <stream>: sets DS_STATUS, DS_RETENTION, DS_SHARDS; returns 1 when the stream is absent.
kinesis_describe() {
  local out body
  out="$(kinesis_call DescribeStreamSummary "{\"StreamName\":\"$1\"}")"
  body="$(http_body_of "$out")"
  case "$(http_status_of "$out")" in
    200) ;;
    400) [[ "$(jq -r '.__type // ""' <<<"$body")" == *ResourceNotFound* ]] && return 1
         die "kinesis: DescribeStreamSummary $1: $body" ;;
    *) die "kinesis: DescribeStreamSummary $1 failed: $(http_status_of "$out") $body" ;;
  esac
  DS_STATUS="$(jq -r '.StreamDescriptionSummary.StreamStatus' <<<"$body")"
  DS_RETENTION="$(jq -r '.StreamDescriptionSummary.RetentionPeriodHours' <<<"$body")"
  DS_SHARDS="$(jq -r '.StreamDescriptionSummary.OpenShardCount' <<<"$body")"
}

kinesis_wait_active() {
  local i
  for ((i = 0; i < 300; i++)); do
    kinesis_describe "$1" || die "kinesis: stream $1 vanished"
    [[ "$DS_STATUS" == ACTIVE ]] && return 0
    sleep 0.1
  done
  die "kinesis: stream $1 not ACTIVE after 30s (status $DS_STATUS)"
}

kinesis_ensure_streams() {
  local s out
  for s in "${STREAMS[@]}"; do
    if ! kinesis_describe "$s"; then
      out="$(kinesis_call CreateStream "{\"StreamName\":\"$s\",\"ShardCount\":$SHARDS}")"
      case "$(http_status_of "$out")" in
        200) say "kinesis: created stream $s ($SHARDS shards)" ;;
        400) [[ "$(http_body_of "$out")" == *ResourceInUse* ]] \
               || die "kinesis: CreateStream $s: $(http_body_of "$out")" ;;
        *) die "kinesis: CreateStream $s failed: $(http_body_of "$out")" ;;
      esac
    fi
    kinesis_wait_active "$s"
    if ((DS_RETENTION < RETENTION_HOURS)); then
      out="$(kinesis_call IncreaseStreamRetentionPeriod \
        "{\"StreamName\":\"$s\",\"RetentionPeriodHours\":$RETENTION_HOURS}")"
      [[ "$(http_status_of "$out")" == 200 ]] \
        || die "kinesis: IncreaseStreamRetentionPeriod $s: $(http_body_of "$out")"
      kinesis_wait_active "$s"
    fi
    if [[ "$DS_SHARDS" != "$SHARDS" ]]; then
      warn "kinesis: stream $s has $DS_SHARDS open shards, TP_SHARDS=$SHARDS (kept; make down && clean to recreate)"
    fi
  done
  say "kinesis: streams ${STREAMS[*]} ACTIVE, retention ${RETENTION_HOURS}h"
}

s3_spawn() {
  local pid
  if pid="$(pidfile_pid "$PID_DIR/s3.pid" "$S3_MARKER")"; then
    say "s3: already running (pid $pid, port $S3_PORT)"
    return 0
  fi
  port_busy "$S3_PORT" && die "s3: port $S3_PORT is already in use by another process"
  mkdir -p "$RUN_DIR/s3"
  say "s3: starting s3rver on 127.0.0.1:$S3_PORT"
  spawn_daemon "$PID_DIR/s3.pid" "$LOG_DIR/s3.log" "$RUN_DIR" \
    node --openssl-legacy-provider "$ROOT/node_modules/s3rver/bin/s3rver.js" \
    -p "$S3_PORT" -a 127.0.0.1 -d "$RUN_DIR/s3"
}

s3_wait() {
  local i out pid
  for ((i = 0; i < 600; i++)); do
    out="$(s3_call GET /)"
    [[ "$(http_status_of "$out")" == 200 ]] && return 0
    if ! pid="$(pidfile_pid "$PID_DIR/s3.pid" "$S3_MARKER")"; then
      log_tail "$LOG_DIR/s3.log"
      die "s3: s3rver exited during start-up"
    fi
    sleep 0.1
  done
  log_tail "$LOG_DIR/s3.log"
  die "s3: not answering on port $S3_PORT after 60s"
}

s3_ensure_bucket() {
  local out
  out="$(s3_call PUT "/$ARCHIVE_BUCKET")"
  case "$(http_status_of "$out")" in
    200) say "s3: bucket $ARCHIVE_BUCKET ready" ;;
    409) say "s3: bucket $ARCHIVE_BUCKET exists" ;;
    *) die "s3: CreateBucket $ARCHIVE_BUCKET failed: $(http_body_of "$out")" ;;
  esac
}
