#!/usr/bin/env bash
# test.sh — `make test`: deps, the ASan+UBSan build, a private stack, every ctest test.
#
# The private stack lives in .run/test with every port +100, so it runs beside a `make demo`
# stack; it is wiped first and always stopped at the end. Unit and integration tests run under
# the sanitizers (the services the stack starts are the sanitized builds too). ctest's summary
# is the last thing printed; the exit status is non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"
cd "$ROOT"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
BUILD="$ROOT/build/asan"

bash scripts/deps.sh
say "test: building $BUILD (ASan + UBSan)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DTP_SANITIZE=ON >/dev/null
# Keep going past a broken target so every test that can run still runs; the run fails anyway.
build_ok=1
if ! cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" -- -k; then
  build_ok=0
  say "test: the build failed (see above); running what was built, and the run will fail"
fi

export TP_RUN_DIR="$ROOT/.run/test" TP_PORT_OFFSET="${TP_TEST_PORT_OFFSET:-100}" TP_BUILD_DIR="$BUILD" TP_SHARDS="${TP_SHARDS:-2}"
STACK_LOG="$ROOT/.run/test-stack-down.log"

stop_stack() {
  # Quietly, after ctest's summary: its output goes to a file.
  mkdir -p "$ROOT/.run"
  bash scripts/stack.sh down >"$STACK_LOG" 2>&1 || say "test: stopping the stack failed (see $STACK_LOG)"
}

bash scripts/stack.sh clean
trap stop_stack EXIT
stack_ok=1
if ! bash scripts/stack.sh up; then
  stack_ok=0
  say "test: the private stack did not come up; integration tests will fail (logs in $TP_RUN_DIR/logs)"
fi
export TP_STACK_ENV="$TP_RUN_DIR/stack.env"

rc=0
(cd "$BUILD" && ctest --output-on-failure -j2 --timeout 900) || rc=$?
[[ $stack_ok == 1 && $build_ok == 1 ]] || rc=1
exit "$rc"
