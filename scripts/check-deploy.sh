#!/usr/bin/env bash
# The deployment checks `make test` runs: hadolint on the Dockerfile, docker-compose config, the
# runtime packages against ldd, every role command line against the CLI, the Kubernetes manifests
# against the Kubernetes version below, and the alert rules with promtool. (The metric names the
# dashboard and the rules use are checked against a real `conveyor serve` by MetricNamesTests.)
set -euo pipefail
cd "$(dirname "$0")/.."
kubernetes_version=1.34.0
binary=.build/debug/conveyor
[ -x "$binary" ] || binary=.build/release/conveyor

echo "== hadolint Dockerfile"
.venv/bin/hadolint --failure-threshold warning Dockerfile

echo "== docker-compose config -q (with .env.example)"
docker-compose --env-file .env.example config -q
# Without a .env the api must refuse to start rather than run without API keys.
if env -u CONVEYOR_API_KEYS docker-compose --env-file /dev/null config -q 2>/dev/null; then
  echo "docker-compose.yml accepts a missing CONVEYOR_API_KEYS"
  exit 1
fi

echo "== runtime packages against ldd"
scripts/check-runtime-libs.sh

echo "== the image serves the dashboard's Chart.js"
# serve reads it from ServerConfiguration.vendorDirectory (/usr/share/javascript) + /chart.js.
grep -Eq 'apt-get install .*libjs-chart\.js' Dockerfile || { echo "the Dockerfile's runtime stage does not install libjs-chart.js"; exit 1; }

echo "== role command lines"
.venv/bin/python scripts/check-roles.py "$binary"

echo "== kubernetes-validate (Kubernetes $kubernetes_version)"
.venv/bin/kubernetes-validate --kubernetes-version "$kubernetes_version" --strict --quiet deploy/k8s/*.yaml

echo "== promtool"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp deploy/prometheus/alerts.yml "$scratch/alerts.yml"
sed "s|/etc/prometheus/alerts.yml|$scratch/alerts.yml|" deploy/prometheus/prometheus.yml > "$scratch/prometheus.yml"
promtool check config "$scratch/prometheus.yml"
python3 -c "import json,sys; d=json.load(open('deploy/grafana/conveyor.json')); assert d['panels'], 'no panels'"
echo "deploy checks passed"
