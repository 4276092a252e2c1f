-- requeue-stalled: finds running jobs whose lease expired (their worker died, froze, or lost Redis)
-- and gives them back to their queue as queued, ahead of waiting jobs. A crash is not a failed
-- attempt: the attempt is taken back and the crash counted apart; a job that has crashed its worker
-- `max crashes` times goes to dead (a poison job cannot take the cluster down in a loop).
-- KEYS[1] inflight zset   KEYS[2] stats hash   KEYS[3] events stream   KEYS[4] dead zset
-- KEYS[5] promoter wake list (unused; declared so every key the script may touch is listed)
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] max crashes   ARGV[4] batch size
-- ARGV[5] dead max
-- Returns {jobs requeued, jobs quarantined to dead, ms until the next lease expires (-1: none)}.
-- @include "cap_dead"
-- @include "counts"
-- @include "emit"
-- @include "list_key"
-- @include "lock_marks"
-- @include "metrics"
-- @include "now_ms"
-- @include "release_unique"
-- @include "wake"
local prefix, hard, max_crashes, batch, dead_max = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local now = now_ms()
local now_s = int(now)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, batch)
local requeued, quarantined = 0, 0
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  local key = prefix .. 'job:' .. id
  local job = redis.call('HMGET', key, 'state', 'queue', 'priority', 'crashes', 'attempts', 'worker', 'unique_key', 'token', 'type')
  local lock = prefix .. 'lock:' .. id
  if holds_lock(redis.call('GET', lock), job[8]) then redis.call('DEL', lock) end
  if job[1] == 'running' then
    local crashes = (tonumber(job[4]) or 0) + 1
    local attempts = math.max(0, (tonumber(job[5]) or 1) - 1)
    if crashes >= max_crashes then
      local reason = 'quarantined: the job was running when its worker died or stalled ' .. crashes ..
        ' times (last worker ' .. (job[6] or '?') .. ')'
      redis.call('HSET', key, 'state', 'dead', 'crashes', int(crashes), 'attempts', int(attempts),
        'last_error', reason, 'finished_at', now_s, 'updated_at', now_s)
      redis.call('ZADD', KEYS[4], now_s, id)
      move_count(job[2], 'running', 'dead')
      release_unique(prefix, id, job[7])
      redis.call('HINCRBY', KEYS[2], 'dead', 1)
      emit(KEYS[3], id, 'dead', now_s, 'error', reason, 'crashes', int(crashes), 'worker', job[6] or '')
      cap_dead(prefix, KEYS[4], KEYS[3], dead_max, now_s)
      count_metric('dead', job[2], job[9], 1)
      quarantined = quarantined + 1
    else
      redis.call('HSET', key, 'state', 'queued', 'crashes', int(crashes), 'attempts', int(attempts),
        'enqueued_at', now_s, 'updated_at', now_s)
      redis.call('RPUSH', list_key(prefix, job[2], job[3]), id)
      move_count(job[2], 'running', 'queued')
      wake(prefix, job[2])
      redis.call('HINCRBY', KEYS[2], 'stalled', 1)
      emit(KEYS[3], id, 'stalled', now_s, 'crashes', int(crashes), 'worker', job[6] or '')
      requeued = requeued + 1
    end
  end
end
flush_metrics(prefix)
flush_counts(prefix)
if #expired > 0 then cap_events(hard) end
if #expired >= batch then return {requeued, quarantined, 0} end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] == nil then return {requeued, quarantined, -1} end
return {requeued, quarantined, math.max(0, tonumber(first[2]) - now)}
