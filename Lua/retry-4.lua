-- retry: puts dead (or cancelled) jobs back on their queue as new: queued, attempts and crash count
-- reset, kept in Redis again until they finish. Jobs in any other state are left alone.
-- KEYS[1] dead zset   KEYS[2] stats hash   KEYS[3] events stream   KEYS[4] inflight zset
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3...] job ids
-- Returns one status per id: "retried", "notfound", "duplicate" (its unique key now names another
-- unfinished job, so retrying would run the same work twice), or the state that kept it.
-- @include "counts"
-- @include "emit"
-- @include "list_key"
-- @include "now_ms"
-- @include "wake"
local prefix, hard = ARGV[1], ARGV[2]
local now_s = int(now_ms())
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local key = prefix .. 'job:' .. id
  local job = redis.call('HMGET', key, 'state', 'queue', 'priority', 'unique_key')
  local holder = nil
  if job[4] and job[4] ~= '' then
    holder = redis.call('GET', prefix .. 'unique:' .. job[4])
    if holder == id then holder = nil end
    if holder then
      local other = redis.call('HGET', prefix .. 'job:' .. holder, 'state')
      if not (other == 'queued' or other == 'scheduled' or other == 'running' or other == 'retrying') then holder = nil end
    end
  end
  if not job[1] then
    redis.call('ZREM', KEYS[1], id)
    out[#out + 1] = 'notfound'
  elseif (job[1] == 'dead' or job[1] == 'cancelled') and holder then
    out[#out + 1] = 'duplicate'
  elseif (job[1] == 'dead' or job[1] == 'cancelled') and redis.call('ZSCORE', KEYS[4], id) == false then
    if job[4] and job[4] ~= '' then redis.call('SET', prefix .. 'unique:' .. job[4], id) end
    redis.call('ZREM', KEYS[1], id)
    redis.call('PERSIST', key)
    redis.call('HSET', key, 'state', 'queued', 'attempts', 0, 'crashes', 0, 'enqueued_at', now_s, 'updated_at', now_s)
    redis.call('HDEL', key, 'finished_at', 'result')
    redis.call('LPUSH', list_key(prefix, job[2], job[3]), id)
    move_count(job[2], job[1], 'queued')
    wake(prefix, job[2])
    redis.call('HINCRBY', KEYS[2], 'enqueued', 1)
    emit(KEYS[3], id, 'queued', now_s, 'from', job[1])
    out[#out + 1] = 'retried'
  else
    out[#out + 1] = job[1]
  end
end
flush_counts(prefix)
cap_events(hard)
return out
