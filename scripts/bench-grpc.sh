#!/usr/bin/env bash
# `make bench-grpc`: unary Enqueue over gRPC against one release `conveyor serve` (no auth, no rate
# limit) and a throwaway redis-server on free loopback ports, and in the same rounds `POST /v1/jobs`
# with wrk (as `make bench-api`), alternating, so the two are compared on the same machine at the
# same moment. Like with like: the saturating figures come from two C load generators with the same
# shape, wrk for REST and h2load (Debian's nghttp2-client) for gRPC, each 2 threads and 64 requests
# in flight (wrk: 64 connections; h2load: 4 HTTP/2 connections x 16 streams), since on two cores
# the client's own CPU is taken from the server. h2load sends a fixed gRPC message (the same job as
# wrk's) and counts HTTP statuses only, so each round also checks that the queue grew by exactly the
# calls h2load counted as done. `conveyor bench-grpc` (grpc-swift's client: 4 connections x 16 calls)
# gives its own saturating figure and the p50/p99 at ~RATE calls/s, paced without coordinated
# omission. Each round also loads `conveyor bench-grpc-floor` with h2load: the same gRPC server
# stack with an Enqueue that does nothing, so the figure is that stack's own ceiling (what no
# work saved in Conveyor's handler could pass). Prints each round, then the medians (RUNS, default 5; SECONDS_PER_RUN, default 10;
# RATE, 2000/s).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CONVEYOR_BIN:-.build/release/conveyor}"
runs="${RUNS:-5}"
seconds="${SECONDS_PER_RUN:-10}"
rate="${RATE:-2000}"
command -v wrk >/dev/null || { echo "wrk is missing: make deps (or apt-get install -y wrk)"; exit 1; }
command -v h2load >/dev/null || { echo "h2load is missing: make deps (or apt-get install -y nghttp2-client)"; exit 1; }
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
floor_port=$(free_port)
"$bin" bench-grpc-floor --port "$floor_port" >"$work/floor.out" 2>"$work/floor.err" &
pids+=($!)
wait_port "$api_port"
wait_port "$grpc_port"
wait_port "$floor_port"
url="http://127.0.0.1:$api_port/v1/jobs"
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"type":"noop","payload":{"order":1234,"email":"someone@example.com"}}'
wrk.headers["Content-Type"] = "application/json"
LUA
# The gRPC message h2load sends: the 5-byte gRPC prefix (uncompressed, big-endian length), then
# EnqueueRequest{type: "noop", payload_json: <wrk's payload>, queue: "bench-grpc"} in protobuf.
python3 - "$work/enqueue.grpc" <<'PY'
import struct, sys
def field(number, text):
    data = text.encode()
    return bytes([number << 3 | 2, len(data)]) + data
message = field(1, "noop") + field(2, '{"order":1234,"email":"someone@example.com"}') + field(3, "bench-grpc")
open(sys.argv[1], "wb").write(b"\0" + struct.pack(">I", len(message)) + message)
PY
grpc_url="http://127.0.0.1:$grpc_port/conveyor.v1.Conveyor/Enqueue"
floor_url="http://127.0.0.1:$floor_port/conveyor.v1.Conveyor/Enqueue"
h2() { h2load -t2 -c4 -m16 -D "$1" -H "content-type: application/grpc" -H "te: trailers" -d "$work/enqueue.grpc" "${2:-$grpc_url}"; }
rps() { sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' | awk '{printf "%.0f", $1}'; }
depth() { redis-cli -p "$redis_port" LLEN "{conveyor}:q:bench-grpc:normal"; }
wrk -t2 -c16 -d2s -s "$work/post.lua" "$url" >/dev/null
h2 2 >/dev/null
h2 2 "$floor_url" >/dev/null
# h2load counts HTTP statuses only, and a gRPC error is an HTTP 200 with grpc-status in its trailers:
# the floor server's answers are checked once with a client that reads them.
check=$("$bin" bench-grpc --port "$floor_port" --seconds 1 --rate 0)
grep -q '(errors 0)' <<<"$check" || { echo "the no-op gRPC server answered with errors: $check" >&2; exit 1; }
grpc=(); swift=(); rest=(); p99s=(); floor=()
for run in $(seq "$runs"); do
  before=$(depth)
  out=$(h2 "$seconds")
  h2rps=$(echo "$out" | rps)
  done_calls=$(echo "$out" | sed -n 's/^requests: .* \([0-9]*\) done.*/\1/p')
  sleep 0.5
  added=$(($(depth) - before))
  # Calls still in flight when h2load stops (at most 64) may land without being counted as done.
  if [ "$added" -lt "$done_calls" ] || [ "$added" -gt $((done_calls + 64)) ]; then
    echo "h2load counted $done_calls calls done but the queue grew by $added" >&2
    exit 1
  fi
  line=$("$bin" bench-grpc --port "$grpc_port" --seconds "$seconds" --rate "$rate")
  jobs=$(echo "$line" | sed -n 's/^saturating \([0-9]*\) jobs.*/\1/p')
  p99=$(echo "$line" | sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p')
  out=$(wrk -t2 -c64 -d"${seconds}s" -s "$work/post.lua" "$url")
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  out=$(h2 "$seconds" "$floor_url")
  if ! grep -q ' 0 failed, 0 errored' <<<"$out"; then echo "the no-op gRPC server failed calls: $out" >&2; exit 1; fi
  floor_rps=$(echo "$out" | rps)
  grpc+=("$h2rps"); swift+=("$jobs"); rest+=("$rps"); p99s+=("$p99"); floor+=("$floor_rps")
  echo "run $run: gRPC (h2load) saturating $h2rps jobs/s ($added enqueued) | gRPC (grpc-swift client) $line | REST (wrk) saturating $rps req/s | no-op gRPC Enqueue (h2load) $floor_rps calls/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratios=(); floors=()
for i in "${!grpc[@]}"; do
  ratios+=("$(awk -v g="${grpc[$i]}" -v r="${rest[$i]}" 'BEGIN {printf "%.2f", g / r}')")
  floors+=("$(awk -v g="${floor[$i]}" -v r="${rest[$i]}" 'BEGIN {printf "%.2f", g / r}')")
done
echo "median of $runs: gRPC $(median "${grpc[@]}") jobs/s with h2load, $(median "${swift[@]}") jobs/s with the grpc-swift client (p99 at ~$rate/s: $(median "${p99s[@]}") ms); REST $(median "${rest[@]}") req/s with wrk; gRPC/REST (h2load/wrk) $(median "${ratios[@]}")x; the no-op gRPC Enqueue $(median "${floor[@]}") calls/s, $(median "${floors[@]}")x REST's real enqueue"
