#!/usr/bin/env bash
# `make bench`: starts a throwaway redis-server on a free loopback port (unless CONVEYOR_REDIS_URL
# is set) and runs `conveyor bench`, passing any arguments through (BENCH_ARGS too).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CONVEYOR_BIN:-.build/release/conveyor}"
if [ -z "${CONVEYOR_REDIS_URL:-}" ]; then
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize yes --logfile "$dir/redis.log"
  trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export CONVEYOR_REDIS_URL="redis://127.0.0.1:$port"
fi
"$bin" bench ${BENCH_ARGS:-} "$@"
