#!/usr/bin/env bash
# `make bench-api`: load figures of `POST /v1/jobs` with wrk against one release `conveyor serve`
# (no auth, no rate limit) and a throwaway redis-server on free loopback ports. Prints, for RUNS runs
# (default 5): the saturating throughput (wrk -t2 -c64) and the p50/p99 latency at a fixed offered
# rate (default 2000 requests/s: 100 connections, each sending about every 50 ms), then the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CONVEYOR_BIN:-.build/release/conveyor}"
runs="${RUNS:-5}"
seconds="${SECONDS_PER_RUN:-10}"
rate="${RATE:-2000}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk"; exit 1; }
source scripts/lib.sh
work=$(mktemp -d)
pids=()
trap 'stop_started; rm -rf "$work"' EXIT
start_redis "$work"
api_port=$(free_port)
CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_RATE_LIMIT=off CONVEYOR_LOG_LEVEL=warning MONGOC_DISABLE_SHM=1 \
  CONVEYOR_MONGO_URL="mongodb://127.0.0.1:1/conveyor" "$bin" serve --no-auth --port "$api_port" --grpc-port 0 >"$work/api.out" 2>"$work/api.err" &
pids+=($!)
wait_port "$api_port"
url="http://127.0.0.1:$api_port/v1/jobs"
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"type":"noop","payload":{"order":1234,"email":"someone@example.com"}}'
wrk.headers["Content-Type"] = "application/json"
LUA
connections=100
delay=$(( connections * 1000 / rate - 1 ))
cat >"$work/paced.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"type":"noop","payload":{"order":1234,"email":"someone@example.com"}}'
wrk.headers["Content-Type"] = "application/json"
function delay() return $delay end
LUA
# Warm up (connections, script cache), then measure.
wrk -t2 -c16 -d2s -s "$work/post.lua" "$url" >/dev/null
throughputs=(); p50s=(); p99s=(); rates=()
for run in $(seq "$runs"); do
  out=$(wrk -t2 -c64 -d"${seconds}s" -s "$work/post.lua" --latency "$url")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  throughputs+=("$rps")
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" -s "$work/paced.lua" --latency "$url")
  paced=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  rates+=("$paced"); p50s+=("$p50"); p99s+=("$p99")
  echo "run $run: saturating ${rps} req/s${errors:+ (non-2xx: $errors)}; at ${paced} req/s offered ~${rate}: p50 ${p50}, p99 ${p99}"
done
median() { printf '%s\n' "$@" | sed 's/ms$//; s/us$/e-3/' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median of $runs: saturating $(median "${throughputs[@]}") req/s; at $(median "${rates[@]}") req/s: p50 $(median "${p50s[@]}") ms, p99 $(median "${p99s[@]}") ms"
echo "jobs in Redis: $(redis-cli -p "$redis_port" hget '{conveyor}:stats' enqueued)"
