#!/usr/bin/env bash
# `make bench-history`: the history writer against SecantusDB — catch-up rate on a prefilled stream,
# and the broker's processing rate with and without a writer — with a throwaway redis-server and
# secantusd-py on free loopback ports. SecantusDB runs at nice 19: on this 2-core box it stands in for
# a MongoDB on another machine, so its own CPU use is not counted as the writer's cost to the broker.
# Arguments (and BENCH_ARGS) go to `conveyor bench --history` (--runs, --history-events, --jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CONVEYOR_BIN:-.build/release/conveyor}
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
mongo_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize yes --logfile "$dir/redis.log"
: >"$dir/secantusd.toml"
chrt --idle 0 .venv/bin/secantusd-py --config "$dir/secantusd.toml" --host 127.0.0.1 --port "$mongo_port" \
  --storage-path "$dir/mongo" --log-level WARNING >"$dir/secantusd.log" 2>&1 &
mongo_pid=$!
trap 'kill "$mongo_pid" 2>/dev/null; wait "$mongo_pid" 2>/dev/null; redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 300); do python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$mongo_port),0.2)" 2>/dev/null && break; sleep 0.1; done
export CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_MONGO_URL="mongodb://127.0.0.1:$mongo_port/conveyor_bench" MONGOC_DISABLE_SHM=1
"$bin" bench --history ${BENCH_ARGS:-} "$@"
