#!/usr/bin/env bash
# `make bench-events`: the live event feed under load. One release `conveyor serve` (no auth) and a
# worker on a throwaway redis-server; `conveyor bench-events` enqueues RATE jobs/s (default 2000) for
# SECONDS (default 300) with 10 unfiltered sockets, 39 filtered to one job type and one that never
# reads, then prints completeness, append-to-arrival delay, the CPU of each process while jobs flowed
# and the server's RSS after 1 minute and at the end. BENCH_FLAGS=--nio-client reads with
# HummingbirdWSClient instead of the bench's poll(2) reader.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CONVEYOR_BIN:-.build/release/conveyor}"
source scripts/lib.sh
work=$(mktemp -d)
pids=()
trap 'stop_started; rm -rf "$work"' EXIT
start_redis "$work"
redis_pid=${pids[-1]}
api_port=$(free_port)
# The stream must hold the whole run (3 events per job) so the expected events can be read back;
# finished jobs leave Redis at once.
export CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_LOG_LEVEL=warning MONGOC_DISABLE_SHM=1 \
  CONVEYOR_EVENTS_MAXLEN=5000000 CONVEYOR_KEEP_FINISHED=0 CONVEYOR_MONGO_URL="mongodb://127.0.0.1:1/conveyor"
"$bin" serve --no-auth --port "$api_port" --grpc-port 0 >"$work/api.out" 2>"$work/api.err" &
server=$!
pids+=($server)
"$bin" worker --queues bench-events --concurrency 100 >"$work/worker.log" 2>&1 &
worker=$!
pids+=($worker)
wait_port "$api_port"
"$bin" bench-events --url "http://127.0.0.1:$api_port" --server-pid "$server" --rate "${RATE:-2000}" --seconds "${SECONDS_RUN:-300}" \
  --unfiltered "${UNFILTERED:-10}" --filtered "${FILTERED:-39}" --stalled "${STALLED:-1}" \
  --cpu-pids "server:$server,worker:$worker,redis:$redis_pid" ${BENCH_FLAGS:-}
