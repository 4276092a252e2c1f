#!/usr/bin/env bash
# `make bench-compare`: installs Debian's ruby-sidekiq when missing, then runs scripts/bench-compare.py
# (Sidekiq and Conveyor side by side on a throwaway redis-server; see that file for the phases).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg-query -W -f='${Status}' ruby-sidekiq 2>/dev/null | grep -q "install ok installed"; then
  echo "installing: ruby-sidekiq"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ruby-sidekiq >/dev/null
fi
exec .venv/bin/python scripts/bench-compare.py
