#!/usr/bin/env bash
# The gRPC API tested with a client nobody here wrote: Python grpcio stubs generated (grpcio-tools)
# from API/**/*.proto into a temporary folder, run by pytest (Tests/grpc) against a real
# `conveyor serve` (REST and gRPC) with a worker, a promoter and a history writer, on a throwaway
# redis-server and SecantusDB. Used by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${CONVEYOR_BIN:-.build/debug/conveyor}"
source scripts/lib.sh
work="$(mktemp -d /tmp/conveyor-grpc.XXXXXX)"
pids=()
trap 'stop_started; rm -rf "$work"' EXIT
mkdir -p "$work/stubs"
.venv/bin/python -m grpc_tools.protoc -I API --python_out="$work/stubs" --grpc_python_out="$work/stubs" \
  API/conveyor/v1/conveyor.proto API/grpc/health/v1/health.proto API/grpc/reflection/v1alpha/reflection.proto
start_redis "$work"
start_mongo "$work"
api_port=$(free_port)
grpc_port=$(free_port)
export CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_MONGO_URL="mongodb://127.0.0.1:$mongo_port/conveyor"
export CONVEYOR_API_KEYS="grpc-admin-key:admin,grpc-submit-key:submit,grpc-read-key:read,grpc-slow-key:admin:1/s:3"
export MONGOC_DISABLE_SHM=1 CONVEYOR_LOG_LEVEL=warning
"$binary" serve --port "$api_port" --grpc-port "$grpc_port" >"$work/api.out" 2>"$work/api.err" &
pids+=($!)
"$binary" worker --queues default,grpc >"$work/worker.log" 2>&1 &
pids+=($!)
"$binary" promoter >"$work/promoter.log" 2>&1 &
pids+=($!)
"$binary" history >"$work/history.log" 2>&1 &
pids+=($!)
# A second server on a Redis of its own, which the UNAVAILABLE test stops (kill -9). That Redis runs
# daemonized, so bash does not report its death as a killed job.
mkdir -p "$work/down"
down_redis_port=$(free_port)
redis-server --port "$down_redis_port" --bind 127.0.0.1 --dir "$work/down" --save "" --appendonly no \
  --logfile "$work/down/redis.log" --daemonize yes --pidfile "$work/down/redis.pid"
wait_port "$down_redis_port"
down_redis_pid=$(cat "$work/down/redis.pid")
trap 'kill -9 "$down_redis_pid" 2>/dev/null || true; stop_started; rm -rf "$work"' EXIT
down_api_port=$(free_port)
down_grpc_port=$(free_port)
CONVEYOR_REDIS_URL="redis://127.0.0.1:$down_redis_port" CONVEYOR_API_KEYS="" \
  "$binary" serve --no-auth --port "$down_api_port" --grpc-port "$down_grpc_port" >"$work/down/api.out" 2>"$work/down/api.err" &
pids+=($!)
wait_port "$api_port"
wait_port "$grpc_port"
wait_port "$down_grpc_port"
status=0
PYTHONPATH="$work/stubs" CONVEYOR_GRPC="127.0.0.1:$grpc_port" CONVEYOR_HTTP="http://127.0.0.1:$api_port" \
  CONVEYOR_GRPC_REDIS_DOWN="127.0.0.1:$down_grpc_port" CONVEYOR_REDIS_DOWN_PID="$down_redis_pid" \
  .venv/bin/python -m pytest -q -p no:cacheprovider Tests/grpc || status=$?
if ! kill -0 "${pids[0]}" 2>/dev/null; then
  echo "conveyor serve died:"; cat "$work/api.err"; status=1
fi
exit $status
