-- complete: records the success of one or more attempts. Fenced by the lock: GETDEL of the job's
-- lock must give this attempt's token, so a worker whose lease was lost (stalled, requeued, claimed
-- again) cannot complete, and a retried call whose first reply was lost answers "ok" again without
-- recording anything twice. A lock found with another claim's token is put back as it was (its
-- lease's end is its score in inflight; none left: it stays gone). Why GETDEL: the fence used to
-- read the hash (HMGET) before the DEL; each redis.call costs ~2.5 us of Redis time in place
-- (scripts/lua-profile.py), and the worker already knows the fields that read gave (claim-4.lua
-- returns them).
-- KEYS[1] inflight zset   KEYS[2] stats hash   KEYS[3] events stream
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] keep finished ms
-- ARGV[4...] 8 per job: id, token, result JSON ("" for none), and as the claim returned them: queue,
--   type, attempt, started_at (ms), unique_key ("" for none)
-- Returns one status per job: "ok", "stale" (lock lost; nothing recorded) or "cancelled" (cancelled
-- while running; nothing recorded).
-- @include "counts"
-- @include "emit"
-- @include "expire_finished"
-- @include "lock_marks"
-- @include "metrics"
-- @include "now_ms"
-- @include "release_unique"
local prefix, hard, keep = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local now_s = int(now)
local out = {}
local released = {}
local succeeded = 0
for i = 4, #ARGV, 8 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local queue, jtype, attempt, started, unique = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local key = prefix .. 'job:' .. id
  local lock = prefix .. 'lock:' .. id
  local held = redis.call('GETDEL', lock)
  if held == token then
    -- The lock exists with this token only while the job runs under this claim.
    released[#released + 1] = id
    redis.call('HSET', key, 'state', 'succeeded', 'result', result, 'finished_at', now_s, 'updated_at', now_s)
    release_unique(prefix, id, unique)
    move_count(queue, 'running', 'succeeded')
    local duration = now - (tonumber(started) or now)
    emit(KEYS[3], id, 'succeeded', now_s, 'attempt', attempt, 'result', result, 'duration_ms', int(duration))
    count_metric('succeeded', queue, jtype, 1)
    observe_metric('run', queue, jtype, duration)
    expire_finished(key, keep)
    succeeded = succeeded + 1
    out[#out + 1] = 'ok'
  elseif held == token .. CANCELLED_MARK then
    released[#released + 1] = id
    out[#out + 1] = 'cancelled'
  else
    if held then
      -- Another claim's lock (this worker's lease was lost and the job claimed again): put it back
      -- until its lease ends. A lock with no lease left is one the promoter is done with: it stays gone.
      local lease_end = tonumber(redis.call('ZSCORE', KEYS[1], id))
      if lease_end and lease_end > now then redis.call('SET', lock, held, 'PX', int(lease_end - now)) end
    end
    local job = redis.call('HMGET', key, 'state', 'token')
    if job[1] == 'succeeded' and job[2] == token then
      out[#out + 1] = 'ok'
    elseif job[1] == 'cancelled' and job[2] == token then
      released[#released + 1] = id
      out[#out + 1] = 'cancelled'
    else
      out[#out + 1] = 'stale'
    end
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
