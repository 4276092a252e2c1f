#!/usr/bin/env bash
# Installs what Conveyor needs on Debian 12, idempotently: the C libraries, redis-server, Chromium, Chart.js, and the
# tools the tests use (python3-venv for the local MongoDB-protocol server, see install-mongo.sh;
# redis-sentinel for the failover test; docker-compose to validate docker-compose.yml; prometheus for
# promtool, which checks deploy/prometheus/alerts.yml).
# Runs apt-get update once, and only when something is missing.
set -euo pipefail
# chromium + chromium-driver drive the dashboard's browser tests; libjs-chart.js is the charting library
# the dashboard serves under /vendor/chart.js/; wrk and nghttp2-client's h2load are the REST and gRPC
# load generators of make bench-api and make bench-grpc.
packages=(libhiredis-dev libmongoc-dev libbson-dev redis-server redis-tools pkg-config python3 python3-venv curl procps wrk
  nghttp2-client redis-sentinel docker-compose prometheus chromium chromium-driver libjs-chart.js)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6.1 or later is needed)"; exit 1; }
