#!/usr/bin/env bash
# `make bench-grpc`: unary Enqueue over gRPC (`conveyor bench-grpc`: 4 HTTP/2 connections, 16 calls in
# flight on each) against one release `conveyor serve` (no auth, no rate limit) and a throwaway
# redis-server on free loopback ports, and in the same rounds `POST /v1/jobs` with wrk (as
# `make bench-api`), alternating, so the two are compared on the same machine at the same moment.
# Prints each round, then the medians (RUNS, default 5; SECONDS_PER_RUN, default 10; RATE, 2000/s).
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
grpc_port=$(free_port)
CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_RATE_LIMIT=off CONVEYOR_LOG_LEVEL=warning MONGOC_DISABLE_SHM=1 \
  CONVEYOR_MONGO_URL="mongodb://127.0.0.1:1/conveyor" "$bin" serve --no-auth --port "$api_port" --grpc-port "$grpc_port" \
  >"$work/api.out" 2>"$work/api.err" &
pids+=($!)
wait_port "$api_port"
wait_port "$grpc_port"
url="http://127.0.0.1:$api_port/v1/jobs"
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"type":"noop","payload":{"order":1234,"email":"someone@example.com"}}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk -t2 -c16 -d2s -s "$work/post.lua" "$url" >/dev/null
grpc=(); rest=(); p99s=()
for run in $(seq "$runs"); do
  line=$("$bin" bench-grpc --port "$grpc_port" --seconds "$seconds" --rate "$rate")
  jobs=$(echo "$line" | sed -n 's/^saturating \([0-9]*\) jobs.*/\1/p')
  p99=$(echo "$line" | sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p')
  out=$(wrk -t2 -c64 -d"${seconds}s" -s "$work/post.lua" "$url")
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  grpc+=("$jobs"); rest+=("$rps"); p99s+=("$p99")
  echo "run $run: gRPC $line | REST saturating $rps req/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratios=(); for i in "${!grpc[@]}"; do ratios+=("$(awk -v g="${grpc[$i]}" -v r="${rest[$i]}" 'BEGIN {printf "%.2f", g / r}')"); done
echo "median of $runs: gRPC $(median "${grpc[@]}") jobs/s (p99 at ~$rate/s: $(median "${p99s[@]}") ms), REST $(median "${rest[@]}") req/s, gRPC/REST $(median "${ratios[@]}")x"
