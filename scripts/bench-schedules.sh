#!/usr/bin/env bash
# `make bench-schedules`: tick lateness (job enqueued minus tick, Redis clock) of an every-second cron
# fired by 3 `conveyor promoter` processes for SECONDS (default 60), against a throwaway redis-server on
# a free loopback port. Prints the tick count, any gap between consecutive ticks, and p50/p99/max.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/conveyor
seconds=${1:-60}
source scripts/lib.sh
dir=$(mktemp -d)
pids=()
trap 'stop_started; rm -rf "$dir"' EXIT
start_redis "$dir"
port=$redis_port
export CONVEYOR_REDIS_URL="redis://127.0.0.1:$port" CONVEYOR_NAMESPACE=bench-schedules CONVEYOR_LOG_LEVEL=warning
for _ in 1 2 3; do "$bin" promoter & pids+=($!); done
sleep 1
"$bin" schedule add every-second noop --cron '* * * * * *' >/dev/null
sleep "$seconds"
"$bin" schedule pause every-second >/dev/null
redis-cli -p "$port" --raw XRANGE '{bench-schedules}:events' - + >"$dir/events.txt"
python3 - "$dir/events.txt" <<'PY'
import sys
# An entry is `ts <ms> job <id> event <name> ...` (Lua/includes/emit.lua): a `ts` right before a `job`
# belongs to every event of its entry.
words = open(sys.argv[1]).read().split('\n')
entries, current, shared_ts, k = [], {}, None, 0
while k < len(words) - 1:
    if words[k] == 'job':
        current = {'ts': shared_ts}
        entries.append(current)
    if words[k] == 'ts' and k + 2 < len(words) and words[k + 2] == 'job':
        shared_ts = words[k + 1]
        k += 2
        continue
    if words[k] in ('event', 'ts', 'tick'):
        current[words[k]] = words[k + 1]
        k += 2
        continue
    k += 1
fired = [e for e in entries if e.get('event') == 'enqueued' and 'tick' in e]
ticks = sorted(int(e['tick']) for e in fired)
gaps = [b - a for a, b in zip(ticks, ticks[1:]) if b - a != 1000]
late = sorted(int(e['ts']) - int(e['tick']) for e in fired)
n = len(late)
print(f"{n} ticks ({len(set(ticks))} distinct), gaps {gaps or 'none'}: lateness p50 {late[n // 2]} ms, "
      f"p99 {late[min(n - 1, int(n * 0.99))]} ms, max {late[-1]} ms")
PY
