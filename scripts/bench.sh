#!/usr/bin/env bash
# `make bench`: starts a throwaway redis-server on a free loopback port (unless CONVEYOR_REDIS_URL
# is set) and runs `conveyor bench`, passing any arguments through (BENCH_ARGS too).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CONVEYOR_BIN:-.build/release/conveyor}"
if [ -z "${CONVEYOR_REDIS_URL:-}" ]; then
  source scripts/lib.sh
  dir=$(mktemp -d)
  pids=()
  trap 'stop_started; rm -rf "$dir"' EXIT
  start_redis "$dir"
  export CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port"
fi
"$bin" bench ${BENCH_ARGS:-} "$@"
