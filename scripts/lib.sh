# Sourced by the scripts that start throwaway servers (bench*.sh, schemathesis.sh): free loopback
# ports, and redis-server / SecantusDB processes that stop with the script. A script sets `pids=()`
# and `trap 'stop_started; rm -rf "$dir"' EXIT`, then starts what it needs.

# A random free port below the kernel's ephemeral range, so no outgoing connection takes it meanwhile.
free_port() {
  python3 -c '
import random, socket
while True:
    port = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); print(port); break
    except OSError:
        pass
    finally:
        s.close()'
}

# wait_port PORT: returns once something accepts connections on PORT (fails after 30 s).
wait_port() {
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# start_redis DIR: a redis-server without persistence on a free port (set in redis_port), files in DIR.
start_redis() {
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$1" --save "" --appendonly no --maxmemory-policy noeviction --logfile "$1/redis.log" &
  pids+=($!)
  wait_port "$redis_port"
}

# start_mongo DIR [COMMAND PREFIX...]: SecantusDB from .venv on a free port (set in mongo_port), storage
# under DIR; a prefix such as `chrt --idle 0` runs it at another CPU priority.
start_mongo() {
  local dir=$1
  shift
  mongo_port=$(free_port)
  : >"$dir/secantusd.toml"
  "$@" .venv/bin/secantusd-py --config "$dir/secantusd.toml" --host 127.0.0.1 --port "$mongo_port" \
    --storage-path "$dir/mongo" --log-level WARNING >"$dir/mongo.log" 2>&1 &
  pids+=($!)
  wait_port "$mongo_port"
}

# stop_started: stops every process in pids (SIGTERM) and waits for them.
stop_started() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
