#!/usr/bin/env bash
# The dashboard's browser tests (Tests/Browser/test_dashboard.py): Debian's chromium + chromium-driver
# driven by Selenium against a real cluster started here — `conveyor serve` with API keys, a worker,
# a promoter and a history writer, on their own redis-server and SecantusDB on free ports. Screenshots
# go to .run/screenshots/. Nothing leaves this machine (SE_OFFLINE: Selenium fetches no driver).
# Used by `make test`.
#
# Environment: CONVEYOR_BIN, the conveyor binary (default .build/debug/conveyor); CONVEYOR_DASHBOARD_DIR,
# when set, a folder `serve` gets as --dashboard-dir, so edits to Dashboard/ are tested without a
# rebuild (the binary otherwise serves the copy embedded when it was built), e.g.
#   CONVEYOR_BIN=.build/debug/conveyor CONVEYOR_DASHBOARD_DIR=Dashboard scripts/browser-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${CONVEYOR_BIN:-.build/debug/conveyor}"
source scripts/lib.sh
work="$(mktemp -d /tmp/conveyor-browser.XXXXXX)"
pids=()
trap 'stop_started; rm -rf "$work"' EXIT
start_redis "$work"
start_mongo "$work"
api_port=$(free_port)
admin_key="browser-admin-$RANDOM$RANDOM"
export CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_MONGO_URL="mongodb://127.0.0.1:$mongo_port/conveyor"
export CONVEYOR_API_KEYS="$admin_key:admin" MONGOC_DISABLE_SHM=1 CONVEYOR_LOG_LEVEL=warning
dashboard=()
if [ -n "${CONVEYOR_DASHBOARD_DIR:-}" ]; then dashboard=(--dashboard-dir "$CONVEYOR_DASHBOARD_DIR"); fi
"$binary" serve --port "$api_port" --grpc-port 0 "${dashboard[@]}" >"$work/api.out" 2>"$work/api.err" &
pids+=($!)
"$binary" worker --queues default,browser,paused-q --concurrency 4 >"$work/worker.log" 2>&1 &
pids+=($!)
"$binary" promoter >"$work/promoter.log" 2>&1 &
pids+=($!)
"$binary" history >"$work/history.log" 2>&1 &
pids+=($!)
wait_port "$api_port"
mkdir -p .run/screenshots
status=0
SE_OFFLINE=true CONVEYOR_URL="http://127.0.0.1:$api_port" CONVEYOR_ADMIN_KEY="$admin_key" SCREENSHOTS=.run/screenshots \
  timeout 600 .venv/bin/python Tests/Browser/test_dashboard.py || status=$?
if [ $status -ne 0 ]; then
  echo "--- conveyor serve stderr"; tail -n 30 "$work/api.err"
fi
exit $status
