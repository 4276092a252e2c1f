-- enqueue: adds one or more jobs, each queued at once or scheduled for later; honours unique keys.
-- KEYS[1] delayed zset   KEYS[2] stats hash   KEYS[3] events stream   KEYS[4] promoter wake list
-- ARGV[1] key prefix "{ns}:"   ARGV[2] events maxlen   ARGV[3] job count N
-- then 11 fields per job: id, type, queue, priority, payload, max_attempts, backoff, timeout_ms,
--   delay_ms (-1: none), at_ms (-1: none), unique_key ("" : none)
-- Returns one {id, state, duplicate 0|1} per job, in order. Jobs whose unique key names an
-- unfinished job enqueue nothing and return that job. Input is validated by the caller.
-- @include "common"
local prefix, maxlen, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local results = {}
local enqueued = 0
local fields = 11
for i = 0, count - 1 do
  local b = 3 + i * fields
  local id, jtype, queue, priority, payload = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local max_attempts, backoff, timeout = ARGV[b + 6], ARGV[b + 7], ARGV[b + 8]
  local delay, at, unique = tonumber(ARGV[b + 9]), tonumber(ARGV[b + 10]), ARGV[b + 11]
  local existing = nil
  if unique ~= '' then
    local holder = redis.call('GET', prefix .. 'unique:' .. unique)
    if holder then
      local state = redis.call('HGET', prefix .. 'job:' .. holder, 'state')
      if state == 'queued' or state == 'scheduled' or state == 'running' or state == 'retrying' then
        existing = {holder, state, 1}
      end
    end
  end
  if existing then
    results[#results + 1] = existing
  else
    local due = now
    if at >= 0 then due = at elseif delay > 0 then due = now + delay end
    local key = prefix .. 'job:' .. id
    local state = 'queued'
    if due > now then state = 'scheduled' end
    redis.call('HSET', key, 'id', id, 'type', jtype, 'queue', queue, 'priority', priority,
      'payload', payload, 'state', state, 'attempts', 0, 'crashes', 0, 'max_attempts', max_attempts,
      'backoff', backoff, 'timeout_ms', timeout, 'run_at', due, 'unique_key', unique,
      'created_at', now, 'updated_at', now)
    if unique ~= '' then redis.call('SET', prefix .. 'unique:' .. unique, id) end
    redis.call('SADD', prefix .. 'queues', queue)
    if state == 'queued' then
      redis.call('HSET', key, 'enqueued_at', now)
      redis.call('LPUSH', list_key(prefix, queue, priority), id)
      wake(prefix, queue)
    else
      wake_promoter(KEYS[1], KEYS[4], due)
      redis.call('ZADD', KEYS[1], due, id)
    end
    emit(KEYS[3], maxlen, id, 'enqueued', now, 'state', state, 'type', jtype, 'queue', queue,
      'priority', priority, 'payload', payload, 'max_attempts', max_attempts, 'run_at', due,
      'unique_key', unique)
    enqueued = enqueued + 1
    results[#results + 1] = {id, state, 0}
  end
end
if enqueued > 0 then redis.call('HINCRBY', KEYS[2], 'enqueued', enqueued) end
return results
