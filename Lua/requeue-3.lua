-- requeue: a worker gives back jobs it holds but will not finish (graceful shutdown past its grace
-- period). Each goes to the tail of its list, to run next, as queued; the attempt is not counted.
-- KEYS[1] inflight zset   KEYS[2] events stream   KEYS[3] workers zset
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] worker id ("" to keep the registration)
-- ARGV[4...] pairs: id, token
-- Returns the number of jobs given back.
-- @include "counts"
-- @include "emit"
-- @include "list_key"
-- @include "lock_marks"
-- @include "now_ms"
-- @include "wake"
local prefix, hard, worker = ARGV[1], ARGV[2], ARGV[3]
local now_s = int(now_ms())
local given = 0
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = prefix .. 'job:' .. id
  local lock = prefix .. 'lock:' .. id
  if holds_lock(redis.call('GET', lock), token) then
    redis.call('DEL', lock)
    redis.call('ZREM', KEYS[1], id)
    local job = redis.call('HMGET', key, 'state', 'queue', 'priority', 'attempts')
    if job[1] == 'running' then
      redis.call('HSET', key, 'state', 'queued', 'attempts', int(math.max(0, (tonumber(job[4]) or 1) - 1)),
        'enqueued_at', now_s, 'updated_at', now_s)
      redis.call('RPUSH', list_key(prefix, job[2], job[3]), id)
      move_count(job[2], 'running', 'queued')
      wake(prefix, job[2])
      emit(KEYS[2], id, 'requeued', now_s, 'reason', 'worker shutdown')
      given = given + 1
    end
  end
end
flush_counts(prefix)
if given > 0 then cap_events(hard) end
if worker ~= '' then
  redis.call('ZREM', KEYS[3], worker)
  redis.call('DEL', prefix .. 'worker:' .. worker, prefix .. 'wake:worker:' .. worker)
end
return given
