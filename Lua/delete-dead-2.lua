-- delete-dead: removes jobs from the dead-letter queue and from Redis for good.
-- KEYS[1] dead zset   KEYS[2] events stream
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3...] job ids
-- Returns the number of jobs deleted (ids not in the dead-letter queue are left alone).
-- @include "counts"
-- @include "emit"
-- @include "now_ms"
local prefix, hard = ARGV[1], ARGV[2]
local now_s = int(now_ms())
local deleted = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local job = redis.call('HMGET', prefix .. 'job:' .. id, 'state', 'queue')
    move_count(job[2], job[1], nil)
    redis.call('DEL', prefix .. 'job:' .. id)
    emit(KEYS[2], id, 'deleted', now_s)
    deleted = deleted + 1
  end
end
flush_counts(prefix)
if deleted > 0 then cap_events(hard) end
return deleted
