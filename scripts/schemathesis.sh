#!/usr/bin/env bash
# Runs Schemathesis (every check) against /openapi.json of a real `conveyor serve`, with its own
# redis-server and SecantusDB on free ports and a worker running jobs; fails on any 5xx, schema
# violation, wrong status, or crash. Used by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${CONVEYOR_BIN:-.build/debug/conveyor}"
source scripts/lib.sh
work="$(mktemp -d /tmp/conveyor-st.XXXXXX)"
pids=()
trap 'stop_started; rm -rf "$work"' EXIT
start_redis "$work"
start_mongo "$work"
api_port=$(free_port)
export CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_MONGO_URL="mongodb://127.0.0.1:$mongo_port/conveyor"
export CONVEYOR_API_KEYS="schemathesis-admin:admin" MONGOC_DISABLE_SHM=1 CONVEYOR_LOG_LEVEL=warning
"$binary" serve --port "$api_port" --grpc-port 0 >"$work/api.out" 2>"$work/api.err" &
pids+=($!)
"$binary" worker --queues default >"$work/worker.log" 2>&1 &
pids+=($!)
"$binary" history >"$work/history.log" 2>&1 &
pids+=($!)
wait_port "$api_port"
status=0
schema="http://127.0.0.1:$api_port/openapi.json"
st=(.venv/bin/st --config-file scripts/schemathesis.toml run "$schema" -H "Authorization: Bearer schemathesis-admin" --no-color)
# GET /v1/events is a WebSocket: without the upgrade headers every request is answered 426, which
# Schemathesis reads as valid data refused; tests/EventFeedTests cover it over real WebSockets.
"${st[@]}" --checks all --exclude-operation-id createSchedule --exclude-operation-id putSchedule \
  --exclude-operation-id watchEvents || status=$?
# A cron expression or IANA zone can match the document's string types and still be one the engine
# rejects (61 * * * *, Mars/Base): a 400 is right, so schedule definitions skip only the check that
# schema-valid data is always accepted.
"${st[@]}" --checks all --exclude-checks positive_data_acceptance --include-operation-id createSchedule \
  --include-operation-id putSchedule || status=$?
# The server must have survived every request.
if ! kill -0 "${pids[2]}" 2>/dev/null; then
  echo "conveyor serve died:"; cat "$work/api.err"; status=1
fi
if grep -q "Fatal error\|fatalError\|Segmentation" "$work/api.err"; then
  cat "$work/api.err"; status=1
fi
exit $status
