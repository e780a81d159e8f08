#!/usr/bin/env bash
# bench/query/run.sh — query-api latency per endpoint (wrk p50/p99) beside the seed's approach,
# the same questions as full-scan SQL over a raw events table holding the same events, in one run.
# A benchmark, not a test.
#
#   bench/query/run.sh                                   # 200 tenants, 30 days, 1,000,000 events/day
#   DAYS=3 EVENTS_PER_DAY=100000 bench/query/run.sh      # a quick run
#
# Self-contained: a throwaway PostgreSQL cluster under $BENCH_DIR (default /var/tmp/tp-bench-query,
# port $PG_PORT, default 56190) with every migration of db/migrations; the simulator's events COPYed
# into bench.events (the raw table the full-scan side reads); the rollup tables filled from those
# events by rollups.sql — bench only, because 30M events through Kinesis would take hours on this
# machine — and checked against the simulator's ground truth; then tp-query-api (release build,
# $TP_BUILD_DIR, default build/release) on $API_PORT (default 18190), wrk against each endpoint,
# and each full-scan statement of fullscan.sql run $FULLSCAN_RUNS times. A cluster already loaded
# with the same parameters is reused (REUSE=0 reloads). Results: bench/out/query-<time>.md, and
# the "query-api" section of bench/RESULTS.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${TP_BUILD_DIR:-$root/build/release}
tenants=${TENANTS:-200}
days=${DAYS:-30}
epd=${EVENTS_PER_DAY:-1000000}
seed=${SEED:-42}
start=${START:-2026-01-01T00:00:00Z}
dur=${DURATION:-10}
conns=${CONNS:-4}
runs=${FULLSCAN_RUNS:-5}
pg_port=${PG_PORT:-56190}
api_port=${API_PORT:-18190}
bench_dir=${BENCH_DIR:-/var/tmp/tp-bench-query}
reuse=${REUSE:-1}
db=tpbench
out=$root/bench/out
mkdir -p "$out"
report=$out/query-$(date -u +%Y%m%dT%H%M%SZ).md

say() { echo "$*" | tee -a "$report" >&2; }
die() { echo "bench/query: $*" >&2; exit 1; }
for b in services/query-api/tp-query-api tools/simulator/tp-sim; do
  [[ -x $build/$b ]] || die "missing $build/$b (make build, or set TP_BUILD_DIR)"
done
command -v wrk >/dev/null || die "wrk not installed (make deps)"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)

# PostgreSQL refuses to run as root: the cluster belongs to postgres then.
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psqlb() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
api_pid=""
cleanup() {
  [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  as_pg "$pgbin/pg_ctl" -D "$bench_dir/data" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ------------------------------------------------------------------ cluster
if [[ ! -f $bench_dir/data/PG_VERSION ]]; then
  mkdir -p "$bench_dir"
  [[ $(id -u) == 0 ]] && chown postgres: "$bench_dir"
  as_pg "$pgbin/initdb" -D "$bench_dir/data" -A trust -U postgres >/dev/null
fi
as_pg tee "$bench_dir/data/postgresql.auto.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = ''
shared_buffers = '2GB'
work_mem = '128MB'
maintenance_work_mem = '1GB'
max_wal_size = '8GB'
fsync = off
synchronous_commit = off
full_page_writes = off
max_parallel_workers_per_gather = 2
EOF
as_pg "$pgbin/pg_ctl" -D "$bench_dir/data" -m fast stop >/dev/null 2>&1 || true # left running: restart
as_pg "$pgbin/pg_ctl" -D "$bench_dir/data" -l "$bench_dir/postgres.log" -w start </dev/null >/dev/null \
  || die "PostgreSQL did not start (see $bench_dir/postgres.log)"
params="seed=$seed tenants=$tenants days=$days events_per_day=$epd start=$start"
loaded=$(psqlb -d "$db" -tAc "SELECT params FROM bench.meta" 2>/dev/null || true)

say "# query-api benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say ""
say "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'); data: tp-sim $params"
if [[ $reuse == 1 && $loaded == "$params" ]]; then
  say "Data: reusing the cluster loaded with the same parameters"
else
  psqlb -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  for m in "$root"/db/migrations/[0-9]*.sql; do psqlb -d "$db" -f "$m" >/dev/null; done
  psqlb -d "$db" -f "$here/events.sql" 2>/dev/null
  t0=$SECONDS
  "$build/tools/simulator/tp-sim" --seed "$seed" --tenants "$tenants" --days "$days" --events-per-day "$epd" \
    --start "$start" --truth "$bench_dir/truth.ndjson" --out - --no-progress 2>"$bench_dir/sim.log" |
    psqlb -d "$db" -c "\\copy bench.events_raw(doc) from stdin with (format csv, quote e'\\x01', delimiter e'\\x02')"
  psqlb -d "$db" -f "$here/events_finish.sql"
  t1=$SECONDS
  psqlb -d "$db" -f "$here/rollups.sql"
  t2=$SECONDS
  psqlb -d "$db" -c "CREATE TABLE bench.meta(params text); INSERT INTO bench.meta VALUES ('$params')"
  say "Data: loaded bench.events in $((t1 - t0)) s, rollups from it in $((t2 - t1)) s"
fi
nevents=$(psqlb -d "$db" -tAc "SELECT count(*) FROM bench.events")
size=$(psqlb -d "$db" -tAc "SELECT pg_size_pretty(pg_total_relation_size('bench.events'))")
rsize=$(psqlb -d "$db" -tAc "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c
                              JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'rollup' AND c.relkind = 'r'")
say "bench.events: $nevents events, $size; rollup tables: $rsize"

# ------------------------------------------------------------------ rollups equal the truth
psqlb -d "$db" -c "\\copy (SELECT t.tenant_id, t.user_count, t.data_size_bytes,
    to_char(t.last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
    (SELECT sum(events) FROM reporting.tenant_activity_daily d WHERE d.tenant_id = t.tenant_id)
    FROM reporting.tenants t) to '$bench_dir/rollup_check.csv' with (format csv)"
/usr/bin/python3 - "$bench_dir/truth.ndjson" "$bench_dir/rollup_check.csv" <<'PY' || die "rollups differ from the truth"
import csv, json, sys
truth = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("kind") == "tenant":
        truth[r["tenant_id"]] = r
got = {row[0]: row for row in csv.reader(open(sys.argv[2]))}
bad = 0
for tid, t in truth.items():
    g = got.get(tid)
    want = [str(t["user_count"]), str(t["data_size_bytes"]), t["last_activity_at"] or "", str(t["events"])]
    if not g or g[1:] != want:
        bad += 1
        if bad < 5:
            print("tenant %s: rollup %s, truth %s" % (tid, g and g[1:], want), file=sys.stderr)
if bad or len(got) != len(truth):
    sys.exit("%d of %d tenants differ" % (bad, len(truth)))
print("rollups equal the truth for all %d tenants" % len(truth), file=sys.stderr)
PY
say "Check: rollups equal the simulator's ground truth (user_count, data_size_bytes, last_activity_at, events) for every tenant"

# ------------------------------------------------------------------ the API
end=$(/usr/bin/python3 -c "import datetime as d; s=d.datetime.fromisoformat('${start%Z}'); print((s+d.timedelta(days=$days)).strftime('%Y-%m-%dT%H:%M:%SZ'))")
back() { /usr/bin/python3 -c "import datetime as d; s=d.datetime.fromisoformat('${end%Z}'); print((s-d.timedelta(days=$1)).strftime('%Y-%m-%dT%H:%M:%SZ'))"; }
from30=$(back $((days < 30 ? days : 30)))
from7=$(back $((days < 7 ? days : 7)))
month_start="${end:0:8}01T00:00:00Z"
day_start="${end:0:10}T00:00:00Z"
big=$(psqlb -d "$db" -tAc "SELECT tenant_id FROM rollup.tenant_totals ORDER BY events DESC LIMIT 1")
key_row=$(/usr/bin/python3 -c "
import secrets, hashlib, base64
kid = secrets.token_hex(8); sec = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')
print(kid, hashlib.sha256(sec.encode()).hexdigest(), 'tp_%s_%s' % (kid, sec))")
read -r kid khash key <<<"$key_row"
# Bench only: the key is written straight into api_keys (format of common/include/tp/auth.h).
psqlb -d "$db" -c "INSERT INTO api_keys (key_id, secret_sha256, tenant_id, scopes, description)
                   VALUES ('$kid', '$khash', NULL, '{read}', 'bench/query')" >/dev/null
DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/$db" TP_QUERY_PORT=$api_port TP_LOG_LEVEL=warn \
  TP_QUERY_THREADS=${API_THREADS:-4} TP_DB_POOL_SIZE=${API_POOL:-4} \
  "$build/services/query-api/tp-query-api" 2>>"$out/query-api.log" &
api_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$api_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$api_port/readyz" >/dev/null || die "tp-query-api did not become ready"

declare -A url
url[summary]="/v1/metrics/summary"
url[signups]="/v1/metrics/signups?granularity=hour&from=$from30&to=$end"
url[tenants]="/v1/tenants?limit=100"
url[tenant]="/v1/tenants/$big"
url[activity_day]="/v1/tenants/$big/activity?granularity=day&from=$from30&to=$end"
url[activity_hour]="/v1/tenants/$big/activity?granularity=hour&from=$from7&to=$end"
url[jobs_day]="/v1/tenants/$big/jobs?granularity=day&from=$from30&to=$end"
url[engagement]="/v1/insights/engagement?window=7d&to=$end"
url[least_active]="/v1/insights/least-active?window=30d&to=$end"
url[data_size]="/v1/insights/data-size?window=30d&to=$end"
order=(summary signups tenants tenant activity_day activity_hour jobs_day engagement least_active data_size)

# ------------------------------------------------------------------ full scans (the seed's way)
declare -A fs_med fs_max
split_dir=$(mktemp -d)
awk -v dir="$split_dir" '/^-- q: / {f = dir "/" $3 ".sql"; next} f {print > f}' "$here/fullscan.sql"
for q in "${order[@]}"; do
  times=()
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    psqlb -d "$db" -v tenant="$big" -v from_30d="$from30" -v from_7d="$from7" -v to_ts="$end" \
      -v month_start="$month_start" -v day_start="$day_start" -f "$split_dir/$q.sql" >/dev/null
    times+=($((($(date +%s%N) - t0) / 1000000)))
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  fs_med[$q]=$(sed -n "$(((runs + 1) / 2))p" <<<"$sorted")
  fs_max[$q]=$(tail -n1 <<<"$sorted")
  echo "full scan $q: ${times[*]} ms" >&2
done
rm -rf "$split_dir"

# ------------------------------------------------------------------ wrk
to_ms() { # wrk latency "850.00us" / "1.23ms" / "2.00s" → ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
say ""
wrk_run() { # url conns → "p50 p99 rps"
  local res non2xx
  res=$(wrk -t1 -c"$2" -d"${dur}s" --latency -H "Authorization: Bearer $key" "http://127.0.0.1:$api_port$1")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$res")
  [[ -z $non2xx ]] || die "$1: $non2xx non-2xx answers under load"
  echo "$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$res")") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$res")")" \
       "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$res")"
}
say "wrk: ${dur} s per endpoint and concurrency, 1 thread, 1 connection (service time) and $conns connections (load);"
say "tp-query-api with ${API_THREADS:-4} threads and ${API_POOL:-4} PostgreSQL connections. Full scan: each statement"
say "$runs times through psql (median / max). Load average before the API runs: $(cut -d' ' -f1-3 /proc/loadavg)"
say "(this machine is shared: other processes' load lands in the tails)."
say ""
say "| endpoint | p50 ms (1 conn) | p99 ms (1 conn) | p50 ms ($conns conns) | p99 ms ($conns conns) | req/s ($conns conns) | full-scan median ms | full-scan max ms | speed-up (full-scan median / p50 1 conn) |"
say "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
worst_p99=0
min_speedup=""
for q in "${order[@]}"; do
  curl -fs -o /dev/null -H "Authorization: Bearer $key" "http://127.0.0.1:$api_port${url[$q]}" \
    || die "${url[$q]} does not answer 200"
  read -r p50 p99 _ <<<"$(wrk_run "${url[$q]}" 1)"
  read -r l50 l99 rps <<<"$(wrk_run "${url[$q]}" "$conns")"
  speed=$(awk -v a="${fs_med[$q]}" -v b="$p50" 'BEGIN {printf "%.0f", a / b}')
  say "| \`GET ${url[$q]}\` | $p50 | $p99 | $l50 | $l99 | $rps | ${fs_med[$q]} | ${fs_max[$q]} | ${speed}× |"
  worst_p99=$(awk -v a="$worst_p99" -v b="$p99" 'BEGIN {print (b > a) ? b : a}')
  min_speedup=$(awk -v a="${min_speedup:-1e18}" -v b="$speed" 'BEGIN {print (b < a) ? b : a}')
done
say ""
say "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
say "Worst API p99 at 1 connection: ${worst_p99} ms (target ≤ 10 ms). Smallest speed-up over the full scan: ${min_speedup}× (target ≥ 100×)."

# ------------------------------------------------------------------ bench/RESULTS.md
results=$root/bench/RESULTS.md
[[ -f $results ]] || printf '# Benchmark results\n' >"$results"
/usr/bin/python3 - "$results" "$report" <<'PY'
import re, sys
path, report = sys.argv[1], sys.argv[2]
text = open(path).read()
body = open(report).read().split("\n", 2)[2]  # drop the report's own title
section = ("<!-- query-api:begin -->\n## query-api\n\nCommand: `bench/query/run.sh` (see its header). "
           "Latest run:\n\n" + body.strip() + "\n<!-- query-api:end -->")
if "<!-- query-api:begin -->" in text:
    text = re.sub(r"<!-- query-api:begin -->.*?<!-- query-api:end -->", lambda m: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
say ""
say "Report: $report (and bench/RESULTS.md, section query-api)"
