#!/usr/bin/env bash
# The worker's side of processing, next to Redis's: enqueues JOBS `bench.compare` jobs (make
# bench-compare's job: one INCR of a counter, the first and last stamping the time) in batches into a
# throwaway redis-server, then drains them with one release `conveyor worker` per concurrency in
# CONCURRENCY (default "10 100"), ROUNDS times (default 3), alternating. Per run it prints jobs/s
# (from the jobs' own first and last stamps), the worker's and Redis's CPU per job (utime + stime
# from /proc, 10 ms ticks, from the worker's start to the last job) and the worker's context
# switches per job (voluntary + involuntary, every thread). PERF=1 records the worker with perf in
# the last round (perf report -i $PERF_DATA-c<concurrency>, default /tmp/conveyor-worker.perf.data);
# perf slows it down, so the figures of that round are not comparable. For iterating on the worker; `make
# bench-compare` gives the figures that count.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CONVEYOR_BIN:-.build/release/conveyor}"
jobs="${JOBS:-100000}"
rounds="${ROUNDS:-3}"
concurrencies="${CONCURRENCY:-10 100}"
perf_data="${PERF_DATA:-/tmp/conveyor-worker.perf.data}"
source scripts/lib.sh
work=$(mktemp -d)
pids=()
trap 'stop_started; rm -rf "$work"' EXIT
start_redis "$work"
redis_pid=${pids[-1]}
export CONVEYOR_REDIS_URL="redis://127.0.0.1:$redis_port" CONVEYOR_LOG_LEVEL=warning
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
value() { redis-cli -p "$redis_port" get "$1"; }

run() {
  local concurrency=$1 record=$2
  redis-cli -p "$redis_port" flushall >/dev/null
  "$bin" bench-client --mode batch --jobs "$jobs" --batch 1000 --counter bench:counter >/dev/null
  local redis_before worker perf_pid=""
  redis_before=$(ticks "$redis_pid")
  "$bin" worker --queues bench --concurrency "$concurrency" --grace 5s >"$work/worker.log" 2>&1 &
  worker=$!
  if [ "$record" = 1 ]; then
    sleep 0.5 # perf -p attaches to the threads that exist: let the worker start its own first
    perf record -F 2000 -g -p "$worker" -o "$perf_data-c$concurrency" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  until [ "$(value bench:counter)" = "$jobs" ]; do
    kill -0 "$worker" 2>/dev/null || { echo "the worker exited; its log:"; cat "$work/worker.log"; exit 1; }
    sleep 0.05
  done
  local worker_ticks worker_switches redis_ticks first last
  worker_ticks=$(ticks "$worker")
  worker_switches=$(switches "$worker")
  redis_ticks=$(($(ticks "$redis_pid") - redis_before))
  first=$(value bench:counter:first)
  last=$(value bench:counter:last)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  kill -TERM "$worker"
  wait "$worker" || true
  python3 -c "
jobs, c = $jobs, $concurrency
seconds = ($last - $first) / 1e6
print(f'concurrency {c:>3}: {jobs / seconds:8,.0f} jobs/s   worker {$worker_ticks * 1e4 / jobs:5.1f} us CPU/job, '
      f'{$worker_switches / jobs:4.1f} context switches/job   redis {$redis_ticks * 1e4 / jobs:5.1f} us CPU/job')"
}

for round in $(seq 1 "$rounds"); do
  for concurrency in $concurrencies; do
    record=0
    if [ "${PERF:-0}" = 1 ] && [ "$round" = "$rounds" ]; then record=1; fi
    run "$concurrency" "$record"
  done
done
if [ "${PERF:-0}" = 1 ]; then echo "perf data (last round, slowed by perf): $perf_data-c<concurrency>"; fi
