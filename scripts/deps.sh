#!/usr/bin/env bash
# deps.sh — install what tenantpulse needs on Debian 12, idempotently, without asking.
#
# Debian packages: only the missing ones, after one `apt-get update`. Runs as root (CI) or
# through sudo when that is available. npm packages (kinesis-local, s3rver, @redocly/cli,
# pinned in package.json / package-lock.json) go to ./node_modules via `npm ci`, re-run only
# when package-lock.json changed since the last install. Prints what it did.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"

APT_PACKAGES=(
  build-essential cmake pkg-config
  libmicrohttpd-dev libwebsockets-dev libjansson-dev libcurl4-openssl-dev libpq-dev libssl-dev zlib1g-dev
  libcmocka-dev
  postgresql postgresql-contrib
  nodejs npm
  wrk jq curl python3-botocore procps psmisc
)

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# npm may come bundled with a nodejs that is not Debian's (NodeSource's nodejs ships its own npm
# and conflicts with Debian's npm package): a working npm command is enough.
satisfied() {
  case "$1" in
    npm) command -v npm >/dev/null 2>&1 || installed npm ;;
    nodejs) command -v node >/dev/null 2>&1 || installed nodejs ;;
    *) installed "$1" ;;
  esac
}

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@" || die "sudo needs a password here; run 'sudo $*' yourself, then make deps again"
  else
    die "not root and no sudo: install as root: $*"
  fi
}

apt_deps() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    satisfied "$p" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    say "deps: all ${#APT_PACKAGES[@]} Debian packages already installed"
    return 0
  fi
  say "deps: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q </dev/null
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

npm_deps() {
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH after installing Debian packages"
  local stamp="$ROOT/node_modules/.tp-lock-sha256" want have=""
  want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  [[ -f "$stamp" ]] && have="$(cat "$stamp")"
  if [[ "$want" == "$have" && -f "$ROOT/node_modules/kinesis-local/main.js" && \
        -f "$ROOT/node_modules/s3rver/bin/s3rver.js" ]]; then
    say "deps: node_modules up to date (package-lock.json unchanged)"
    return 0
  fi
  say "deps: npm ci (kinesis-local, s3rver, @redocly/cli) into $ROOT/node_modules"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
  echo "$want" >"$stamp"
}

apt_deps
npm_deps
say "deps: done"
