#!/usr/bin/env bash
# Installs the local MongoDB-protocol server (SecantusDB, from PyPI) and Schemathesis into .venv/ at
# the package root, idempotently: creates the virtualenv when missing and installs only when the pinned version is absent.
#
# Starting it (see `.venv/bin/secantusd-py --help`; it speaks the MongoDB wire protocol, reports 8.2.x):
#   .venv/bin/secantusd-py --config EMPTY.toml --host 127.0.0.1 --port 27017 --storage-path DIR [--log-level WARNING]
# --storage-path is a WiredTiger home, created if missing and reopened intact on restart (':memory:'
# for a throwaway one); --config stops it from reading a secantusd.toml found in the working directory,
# ~/.secantus/ or /etc/secantus/. By default it advertises itself as a one-node replica set named
# `secantus` (--standalone turns that off); a URL without `replicaSet=` connects to it directly.
# It stops cleanly on SIGTERM and listens about 1.5 s after it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
version="0.7.0b3"
python="${PYTHON:-python3}"
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "installing: python3-venv"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
installed="$(.venv/bin/python -m pip show SecantusDB 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ "$installed" != "$version" ]; then
  echo "installing: SecantusDB==$version into .venv/"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --pre "SecantusDB==$version"
fi
[ -x .venv/bin/secantusd-py ] || { echo "SecantusDB installed but .venv/bin/secantusd-py is missing"; exit 1; }
# Schemathesis, which `make test` runs against the API's /openapi.json (scripts/schemathesis.sh).
st_version="4.32.5"
installed="$(.venv/bin/python -m pip show schemathesis 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ "$installed" != "$st_version" ]; then
  echo "installing: schemathesis==$st_version into .venv/"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "schemathesis==$st_version"
fi
# openapi-spec-validator, which `make test` runs on API/openapi.yaml.
osv_version="0.9.0"
installed="$(.venv/bin/python -m pip show openapi-spec-validator 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ "$installed" != "$osv_version" ]; then
  echo "installing: openapi-spec-validator==$osv_version into .venv/"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "openapi-spec-validator==$osv_version"
fi
# Selenium, which drives Debian's chromium + chromium-driver in the dashboard's browser tests
# (scripts/browser-tests.sh); websockets, the Python client of the event-feed benchmark.
for pin in selenium==4.38.0 websockets==15.0.1; do
  name="${pin%%==*}"
  installed="$(.venv/bin/python -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)"
  if [ "$installed" != "${pin##*==}" ]; then
    echo "installing: $pin into .venv/"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "$pin"
  fi
done
