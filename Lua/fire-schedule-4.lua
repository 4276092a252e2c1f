-- fire-schedule: fires one tick of a schedule at most once, whatever the number of promoters, by
-- claiming `{ns}:tick:<name>:<tick ms>` with SET NX; only the winner enqueues the job (as enqueue does:
-- hash, list push, wake, `enqueued` event, with the extra fields `schedule` and `tick`), records the
-- last run and moves the schedule's due score to the next fire time computed by the caller. With
-- no_overlap a tick whose previous run is still unfinished is claimed and skipped (and counted).
-- Mode "advance" claims nothing and enqueues nothing: it moves the due score past ticks that a
-- misfire policy dropped. Mode "manual" (run now) enqueues a job for tick ARGV[5] without claiming a
-- tick, honouring neither pause nor no_overlap, and leaves the due score alone.
-- KEYS[1] schedule hash   KEYS[2] schedules due zset   KEYS[3] stats hash   KEYS[4] events stream
-- ARGV[1] key prefix "{ns}:"   ARGV[2] events hard cap   ARGV[3] schedule name   ARGV[4] definition version
-- ARGV[5] tick ms (-1: now, mode manual)   ARGV[6] next fire ms (-1: none, the schedule leaves the due set)   ARGV[7] job id
-- ARGV[8] tick claim ttl ms   ARGV[9] mode: "tick", "advance" or "manual"
-- ARGV[10] expected due score (mode "advance": moves only if the score is still this one)
-- Returns {status, job id or ""}: status "fired", "skipped" (no_overlap), "claimed" (another caller
-- won the tick, or it is not after the last fired tick), "stale" (the definition changed: re-read it),
-- "paused", "gone" (no such schedule), "advanced" or "moved" (mode advance, score already moved).
-- @include "add_job"
-- @include "emit"
-- @include "metrics"
-- @include "wake"
local prefix, hard, name, version = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local tick, nextfire, id, ttl, mode = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local now = now_ms()
local now_s = int(now)
local s = redis.call('HMGET', KEYS[1], 'version', 'paused', 'no_overlap', 'last_tick', 'last_run_id', 'type', 'queue',
  'priority', 'payload', 'max_attempts', 'backoff', 'timeout_ms')
if s[1] == false then
  redis.call('ZREM', KEYS[2], name)
  return {'gone', ''}
end
if mode ~= 'manual' and s[1] ~= version then return {'stale', ''} end
if mode ~= 'manual' and s[2] == '1' then
  redis.call('ZREM', KEYS[2], name)
  return {'paused', ''}
end
if tick < 0 then tick = now end
local tick_s = int(tick)

local function move_score()
  if nextfire >= 0 then redis.call('ZADD', KEYS[2], int(nextfire), name) else redis.call('ZREM', KEYS[2], name) end
end

if mode == 'advance' then
  local score = redis.call('ZSCORE', KEYS[2], name)
  if score == false or tonumber(score) ~= tonumber(ARGV[10]) then return {'moved', ''} end
  move_score()
  redis.call('HSET', KEYS[1], 'last_misfire_at', now_s)
  redis.call('HINCRBY', KEYS[1], 'misfired', 1)
  return {'advanced', ''}
end

if mode == 'tick' then
  if s[4] and tonumber(s[4]) >= tick then return {'claimed', ''} end
  if not redis.call('SET', prefix .. 'tick:' .. name .. ':' .. tick_s, '1', 'NX', 'PX', ttl) then return {'claimed', ''} end
  redis.call('HSET', KEYS[1], 'last_tick', tick_s)
  move_score()
  if s[3] == '1' and s[5] and s[5] ~= '' then
    local state = redis.call('HGET', prefix .. 'job:' .. s[5], 'state')
    if state == 'queued' or state == 'scheduled' or state == 'running' or state == 'retrying' then
      redis.call('HSET', KEYS[1], 'last_skip_tick', tick_s)
      redis.call('HINCRBY', KEYS[1], 'skipped', 1)
      emit(KEYS[4], s[5], 'schedule-skipped', now_s, 'schedule', name, 'tick', tick_s)
      cap_events(hard)
      return {'skipped', s[5]}
    end
  end
end

local queue = s[7]
local pushes = {}
add_job(prefix, KEYS[4], nil, pushes, id, s[6], queue, s[8], s[9], s[10], s[11], s[12], now, now, now_s, name, tick_s)
push_jobs(pushes)
redis.call('SADD', prefix .. 'queues', queue)
wake(prefix, queue)
redis.call('HINCRBY', KEYS[3], 'enqueued', 1)
flush_metrics(prefix)
flush_counts(prefix)
cap_events(hard)
redis.call('HSET', KEYS[1], 'last_run_id', id, 'last_run_at', now_s)
redis.call('HINCRBY', KEYS[1], 'runs', 1)
return {'fired', id}
