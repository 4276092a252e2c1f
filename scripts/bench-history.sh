#!/usr/bin/env bash
# `make bench-history`: the history writer against SecantusDB — catch-up rate on a prefilled stream,
# and the broker's processing rate with and without a writer — with a throwaway redis-server and
# secantusd-py on free loopback ports. SecantusDB runs at idle CPU priority (SCHED_IDLE): on a 2-core
# box it stands in for a MongoDB on another machine; the bench's control phase measures what it still costs.
# Arguments (and BENCH_ARGS) go to `conveyor bench --history` (--runs, --history-events, --jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CONVEYOR_BIN:-.build/release/conveyor}
source scripts/lib.sh
dir=$(mktemp -d)
pids=()
trap 'stop_started; rm -rf "$dir"' EXIT
start_redis "$dir"
start_mongo "$dir" chrt --idle 0
export CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_MONGO_URL="mongodb://127.0.0.1:$mongo_port/conveyor_bench" MONGOC_DISABLE_SHM=1
"$bin" bench --history ${BENCH_ARGS:-} "$@"
