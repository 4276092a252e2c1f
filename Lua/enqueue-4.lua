-- enqueue: adds one or more jobs, each queued at once or scheduled for later; honours unique keys.
-- KEYS[1] delayed zset   KEYS[2] stats hash   KEYS[3] events stream   KEYS[4] promoter wake list
-- ARGV[1] key prefix "{ns}:"   ARGV[2] events maxlen   ARGV[3] job count N
-- then 11 fields per job: id, type, queue, priority, payload, max_attempts, backoff, timeout_ms,
--   delay_ms (-1: none), at_ms (-1: none), unique_key ("" : none)
-- Returns one status per job, in order: "queued" or "scheduled"; for a job whose unique key names an
-- unfinished job (nothing is enqueued) "=<state>:<id of that job>". Input is validated by the caller.
-- @include "common"
local prefix, maxlen, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local results = {}
local enqueued = 0
local fields = 11
local touched = {}
local earliest = nil
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
        existing = '=' .. state .. ':' .. holder
      end
    end
  end
  if existing then
    results[#results + 1] = existing
  else
    local due = now
    if at >= 0 then due = at elseif delay > 0 then due = now + delay end
    local key = prefix .. 'job:' .. id
    if due > now then
      redis.call('HSET', key, 'id', id, 'type', jtype, 'queue', queue, 'priority', priority,
        'payload', payload, 'state', 'scheduled', 'max_attempts', max_attempts, 'backoff', backoff,
        'timeout_ms', timeout, 'run_at', due, 'created_at', now)
      if earliest == nil or due < earliest then earliest = due end
      redis.call('ZADD', KEYS[1], due, id)
      move_count(queue, nil, 'scheduled')
      emit_untrimmed(KEYS[3], id, 'enqueued', now, 'state', 'scheduled', 'type', jtype, 'queue', queue,
        'priority', priority, 'payload', payload, 'max_attempts', max_attempts, 'run_at', due)
      results[#results + 1] = 'scheduled'
    else
      redis.call('HSET', key, 'id', id, 'type', jtype, 'queue', queue, 'priority', priority,
        'payload', payload, 'state', 'queued', 'max_attempts', max_attempts, 'backoff', backoff,
        'timeout_ms', timeout, 'created_at', now, 'enqueued_at', now)
      redis.call('LPUSH', list_key(prefix, queue, priority), id)
      emit_untrimmed(KEYS[3], id, 'enqueued', now, 'state', 'queued', 'type', jtype, 'queue', queue,
        'priority', priority, 'payload', payload, 'max_attempts', max_attempts)
      results[#results + 1] = 'queued'
    end
    if unique ~= '' then
      redis.call('HSET', key, 'unique_key', unique)
      redis.call('SET', prefix .. 'unique:' .. unique, id)
    end
    touched[queue] = true
    count_metric('enqueued', queue, jtype, 1)
    enqueued = enqueued + 1
  end
end
for queue, _ in pairs(touched) do
  redis.call('SADD', prefix .. 'queues', queue)
  wake(prefix, queue)
end
if earliest then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if tonumber(first[2]) >= earliest and redis.call('LLEN', KEYS[4]) == 0 then redis.call('LPUSH', KEYS[4], '1') end
end
flush_metrics(prefix)
flush_counts(prefix)
if enqueued > 0 then
  redis.call('HINCRBY', KEYS[2], 'enqueued', enqueued)
  trim_events(KEYS[3], maxlen)
end
return results
