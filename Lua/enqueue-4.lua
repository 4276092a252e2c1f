-- enqueue: adds one or more jobs, each queued at once or scheduled for later; honours unique keys.
-- KEYS[1] delayed zset   KEYS[2] stats hash   KEYS[3] events stream   KEYS[4] promoter wake list
-- ARGV[1] key prefix "{ns}:"   ARGV[2] events hard cap   ARGV[3] job count N
-- then 11 fields per job: id, type, queue, priority, payload, max_attempts, backoff, timeout_ms,
--   delay_ms (-1: none), at_ms (-1: none), unique_key ("" : none)
-- Returns one status per job, in order: "queued" or "scheduled"; for a job whose unique key names an
-- unfinished job (nothing is enqueued) "=<state>:<id of that job>". Input is validated by the caller.
-- @include "add_job"
-- @include "wake"
-- @include "metrics"
local prefix, hard, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local now_s = int(now)
local results = {}
local enqueued = 0
local touched = {}
local pushed_to = {}
local earliest = nil
local pushes = {}
for i = 0, count - 1 do
  local b = 3 + i * 11
  local id, queue, unique = ARGV[b + 1], ARGV[b + 3], ARGV[b + 11]
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
    local delay, at = tonumber(ARGV[b + 9]), tonumber(ARGV[b + 10])
    local due = now
    if at >= 0 then due = at elseif delay > 0 then due = now + delay end
    local state = add_job(prefix, KEYS[3], KEYS[1], pushes, id, ARGV[b + 2], queue, ARGV[b + 4], ARGV[b + 5],
      ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], due, now, now_s)
    if unique ~= '' then
      redis.call('HSET', prefix .. 'job:' .. id, 'unique_key', unique)
      redis.call('SET', prefix .. 'unique:' .. unique, id)
    end
    if state == 'scheduled' and (earliest == nil or due < earliest) then earliest = due end
    if state == 'queued' then pushed_to[queue] = true end
    touched[queue] = true
    results[#results + 1] = state
    enqueued = enqueued + 1
  end
end
-- A queue is registered and woken only where this call pushed into an empty list, or scheduled a job
-- (touched but not pushed). A list that already held jobs was pushed to by a call that registered
-- its queue (the set only grows), and its jobs were announced: a worker claims before it blocks, and a
-- claim that leaves jobs behind leaves a wake token (claim-4.lua). This saves a SADD and the wake's
-- LLEN, ~2.5 us of Redis time each (scripts/lua-profile.py), per call while a queue has a backlog.
local fresh = push_jobs(pushes)
for queue, _ in pairs(touched) do
  if fresh[queue] or not pushed_to[queue] then
    redis.call('SADD', prefix .. 'queues', queue)
    wake(prefix, queue)
  end
end
if earliest then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if tonumber(first[2]) >= earliest and redis.call('LLEN', KEYS[4]) == 0 then redis.call('LPUSH', KEYS[4], '1') end
end
flush_metrics(prefix)
flush_counts(prefix)
if enqueued > 0 then
  redis.call('HINCRBY', KEYS[2], 'enqueued', enqueued)
  cap_events(hard)
end
return results
