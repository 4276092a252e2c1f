-- promote: moves due jobs (scheduled, or retrying after their backoff) from the delayed set to the
-- head of their priority list, as queued, and wakes the queue's workers. Safe to run from any number
-- of promoters at once: each due job is moved by exactly one call.
-- KEYS[1] delayed zset   KEYS[2] events stream   KEYS[3] stats hash
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] batch size
-- Returns {jobs promoted, ms until the next due job (0: more are due now; -1: none waiting)}.
-- @include "counts"
-- @include "emit"
-- @include "list_key"
-- @include "now_ms"
-- @include "wake"
local prefix, hard, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local now_s = int(now)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, batch)
local promoted = 0
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local key = prefix .. 'job:' .. id
  local job = redis.call('HMGET', key, 'state', 'queue', 'priority')
  if job[1] == 'scheduled' or job[1] == 'retrying' then
    redis.call('HSET', key, 'state', 'queued', 'enqueued_at', now_s, 'updated_at', now_s)
    redis.call('LPUSH', list_key(prefix, job[2], job[3]), id)
    move_count(job[2], job[1], 'queued')
    wake(prefix, job[2])
    emit(KEYS[2], id, 'queued', now_s, 'from', job[1])
    promoted = promoted + 1
  end
end
flush_counts(prefix)
if promoted > 0 then cap_events(hard) end
if #due >= batch then return {promoted, 0} end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] == nil then return {promoted, -1} end
return {promoted, math.max(0, tonumber(first[2]) - now)}
