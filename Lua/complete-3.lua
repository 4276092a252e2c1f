-- complete: records the success of one or more attempts. Fenced by the lock token: a worker whose
-- lease was lost (stalled, requeued, claimed again) cannot complete; a retried call whose first
-- reply was lost answers "ok" again without recording anything twice.
-- KEYS[1] inflight zset   KEYS[2] stats hash   KEYS[3] events stream
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] keep finished ms
-- ARGV[4...] triples: id, token, result JSON ("" for none)
-- Returns one status per job: "ok", "stale" (lock lost; nothing recorded) or the job's state when it
-- is no longer running under this token ("cancelled").
-- @include "counts"
-- @include "emit"
-- @include "expire_finished"
-- @include "metrics"
-- @include "now_ms"
-- @include "release_unique"
local prefix, hard, keep = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local now_s = int(now)
local out = {}
local released = {}
local succeeded = 0
for i = 4, #ARGV, 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = prefix .. 'job:' .. id
  local lock = prefix .. 'lock:' .. id
  local job = redis.call('HMGET', key, 'state', 'token', 'started_at', 'unique_key', 'attempts', 'queue', 'type')
  -- The lock exists only with the token the hash holds (both are set by claim), so a matching hash
  -- token and a lock that DEL finds are the fence: one command instead of GET then DEL.
  if job[2] == token and (job[1] == 'running' or job[1] == 'cancelled') and redis.call('DEL', lock) == 1 then
    released[#released + 1] = id
    if job[1] == 'running' then
      redis.call('HSET', key, 'state', 'succeeded', 'result', result, 'finished_at', now_s, 'updated_at', now_s)
      release_unique(prefix, id, job[4])
      move_count(job[6], 'running', 'succeeded')
      local duration = now - (tonumber(job[3]) or now)
      emit(KEYS[3], id, 'succeeded', now_s, 'attempt', job[5] or '0', 'result', result, 'duration_ms', int(duration))
      count_metric('succeeded', job[6], job[7], 1)
      observe_metric('run', job[6], job[7], duration)
      expire_finished(key, keep)
      succeeded = succeeded + 1
      out[#out + 1] = 'ok'
    else
      out[#out + 1] = job[1] or 'stale'
    end
  elseif job[1] == 'succeeded' and job[2] == token then
    out[#out + 1] = 'ok'
  elseif job[1] == 'cancelled' and job[2] == token then
    released[#released + 1] = id
    out[#out + 1] = 'cancelled'
  else
    out[#out + 1] = 'stale'
  end
end
-- The leases, with one ZREM per call (up to 1,000 ids per ZREM, within Lua's unpack limit).
for first = 1, #released, 1000 do
  redis.call('ZREM', KEYS[1], unpack(released, first, math.min(#released, first + 999)))
end
if succeeded > 0 then
  redis.call('HINCRBY', KEYS[2], 'succeeded', succeeded)
  cap_events(hard)
end
flush_metrics(prefix)
flush_counts(prefix)
return out
