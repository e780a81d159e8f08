#!/usr/bin/env bash
# bench/sim/run.sh — tp-sim throughput. A benchmark, not a test.
#
#   bench/sim/run.sh [file|api|all]
#
# file: a big backfill (200 tenants, DAYS days, 1M events/day) pinned to one core, to /dev/null
#   (generation + formatting) and to a real file (adds the disk); events/s from tp-sim's summary.
# api: a backfill posted to the stack's ingest-api (needs `make up`; TP_STACK_ENV or .run/stack.env).
# Uses the release build (TP_BUILD_DIR, default build/release). Results are printed and appended
# to bench/out/sim-<date>.md; copy the summary into bench/RESULTS.md under "Simulator".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${TP_BUILD_DIR:-$root/build/release}
sim=$build/tools/simulator/tp-sim
mode=${1:-all}
days=${DAYS:-90}
api_days=${API_DAYS:-3}
api_epd=${API_EVENTS_PER_DAY:-100000}
out=$root/bench/out
mkdir -p "$out"
report=$out/sim-$(date -u +%Y%m%dT%H%M%SZ).md
[ -x "$sim" ] || { echo "missing $sim (build the release tree: make build)" >&2; exit 2; }
say() { echo "$*" | tee -a "$report"; }
tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT

say "## Simulator ($(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
say ""
if [[ $mode == file || $mode == all ]]; then
  cmd=(taskset -c 0 "$sim" --seed 1 --tenants 200 --days "$days" --start 2026-01-01T00:00:00Z --events-per-day 1000000 --no-progress)
  say "to /dev/null, one core: \`${cmd[*]} --out /dev/null\`"
  /usr/bin/time -f '%M' -o "$tmpd/rss" "${cmd[@]}" --out /dev/null >"$tmpd/null.json"
  say "    $(cat "$tmpd/null.json")  peak RSS $(( $(cat "$tmpd/rss") / 1024 )) MiB"
  fdays=$(( days < 10 ? days : 10 ))
  fcmd=(taskset -c 0 "$sim" --seed 1 --tenants 200 --days "$fdays" --start 2026-01-01T00:00:00Z --events-per-day 1000000 --no-progress)
  say "to a file on disk, one core, $fdays days: \`${fcmd[*]} --out FILE\`"
  "${fcmd[@]}" --out "$tmpd/events.ndjson" >"$tmpd/file.json"
  say "    $(cat "$tmpd/file.json")  $(( $(stat -c %s "$tmpd/events.ndjson") / 1048576 )) MiB"
  rm -f "$tmpd/events.ndjson"
  say "with the ground truth: \`${fcmd[*]} --out /dev/null --truth FILE\`"
  "${fcmd[@]}" --out /dev/null --truth "$tmpd/truth.ndjson" >"$tmpd/truth.json"
  say "    $(cat "$tmpd/truth.json")"
fi
if [[ $mode == api || $mode == all ]]; then
  stack_env=${TP_STACK_ENV:-$root/.run/stack.env}
  if [[ -f $stack_env ]]; then
    # shellcheck disable=SC1090
    source "$stack_env"
    for conc in 8 32; do
      acmd=("$sim" --seed 2 --tenants 200 --days "$api_days" --events-per-day "$api_epd" --concurrency "$conc"
            --batch 500 --tenant-prefix "bench$(date +%s)c$conc-" --no-progress --to "$TP_INGEST_URL")
      say "to ingest-api: \`${acmd[*]} --token ...\`"
      "${acmd[@]}" --token "$TP_SERVICE_TOKEN" >"$tmpd/api.json" || true
      say "    $(tail -n1 "$tmpd/api.json")"
    done
  else
    say "to ingest-api: skipped (no stack env at $stack_env; run make up)"
  fi
fi
say ""
echo "report: $report"
