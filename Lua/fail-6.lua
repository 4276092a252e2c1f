-- fail: records failed attempts. Each job goes back to the delayed set with its backoff (state
-- retrying) while attempts remain, else to the dead-letter queue (state dead). Fenced by the lock
-- token like complete; a retried call whose first reply was lost answers "ok" again.
-- KEYS[1] inflight   KEYS[2] stats   KEYS[3] events   KEYS[4] delayed   KEYS[5] dead
-- KEYS[6] promoter wake list
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] dead max   ARGV[4...] groups of 4:
--   id, token, error text, random number in [0,1) for jitter
-- Returns one status per job: "retrying", "dead", "stale" or "cancelled".
-- @include "backoff_delay"
-- @include "cap_dead"
-- @include "counts"
-- @include "emit"
-- @include "metrics"
-- @include "now_ms"
-- @include "release_unique"
-- @include "wake_promoter"
local prefix, hard, dead_max = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local now_s = int(now)
local out = {}
local failed, retried, died = 0, 0, 0
for i = 4, #ARGV, 4 do
  local id, token, err, rand = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = prefix .. 'job:' .. id
  local lock = prefix .. 'lock:' .. id
  local job = redis.call('HMGET', key, 'state', 'token', 'attempts', 'max_attempts', 'backoff',
    'started_at', 'unique_key', 'queue', 'type')
  -- The fence, as in complete: the hash's token and a lock that DEL finds (claim sets both).
  if job[2] == token and (job[1] == 'running' or job[1] == 'cancelled') and redis.call('DEL', lock) == 1 then
    redis.call('ZREM', KEYS[1], id)
    if job[1] == 'running' then
      failed = failed + 1
      local attempts = tonumber(job[3]) or 1
      local duration = now - (tonumber(job[6]) or now)
      count_metric('failed', job[8], job[9], 1)
      observe_metric('run', job[8], job[9], duration)
      if attempts < (tonumber(job[4]) or 1) then
        local due = now + backoff_delay(job[5], attempts, rand)
        local due_s = int(due)
        redis.call('HSET', key, 'state', 'retrying', 'last_error', err, 'run_at', due_s, 'updated_at', now_s)
        wake_promoter(KEYS[4], KEYS[6], due)
        redis.call('ZADD', KEYS[4], due_s, id)
        move_count(job[8], 'running', 'retrying')
        emit(KEYS[3], id, 'retrying', now_s, 'attempt', int(attempts), 'error', err, 'run_at', due_s,
          'duration_ms', int(duration))
        retried = retried + 1
        out[#out + 1] = 'retrying'
      else
        redis.call('HSET', key, 'state', 'dead', 'last_error', err, 'finished_at', now_s, 'updated_at', now_s)
        redis.call('ZADD', KEYS[5], now_s, id)
        move_count(job[8], 'running', 'dead')
        release_unique(prefix, id, job[7])
        emit(KEYS[3], id, 'dead', now_s, 'attempt', int(attempts), 'error', err, 'duration_ms', int(duration))
        cap_dead(prefix, KEYS[5], KEYS[3], dead_max, now_s)
        count_metric('dead', job[8], job[9], 1)
        died = died + 1
        out[#out + 1] = 'dead'
      end
    else
      out[#out + 1] = job[1] or 'stale'
    end
  elseif job[2] == token and (job[1] == 'retrying' or job[1] == 'dead') then
    out[#out + 1] = job[1]
  elseif job[1] == 'cancelled' and job[2] == token then
    redis.call('ZREM', KEYS[1], id)
    out[#out + 1] = 'cancelled'
  else
    out[#out + 1] = 'stale'
  end
end
if failed > 0 then redis.call('HINCRBY', KEYS[2], 'failed', failed) end
if retried > 0 then redis.call('HINCRBY', KEYS[2], 'retried', retried) end
if died > 0 then redis.call('HINCRBY', KEYS[2], 'dead', died) end
flush_metrics(prefix)
flush_counts(prefix)
if failed > 0 then cap_events(hard) end
return out
