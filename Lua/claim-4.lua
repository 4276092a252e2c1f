-- claim: pops and claims up to N queued jobs for one worker, strictly by priority (high, normal, low
-- across the served queues, in order), skipping paused queues and jobs no longer queued (cancelled).
-- Each claim sets the lock `{ns}:lock:<id>` (SET NX PX) to a fresh token, a lease in inflight, and
-- moves the job to running, counting the attempt. Leaves a wake token if jobs remain.
-- KEYS[1] inflight zset   KEYS[2] stats hash   KEYS[3] events stream   KEYS[4] paused set
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] worker id   ARGV[4] lease ms   ARGV[5] max jobs
-- ARGV[6...] queue names
-- Returns one array per claimed job: {id, token, type, queue, priority, payload, attempts,
--   max_attempts, timeout_ms, enqueued_at, crashes, created_at, started_at, unique_key}; the worker
--   sends queue, type, attempts, started_at and unique_key back with its ack (complete-3.lua).
-- @include "counts"
-- @include "emit"
-- @include "list_key"
-- @include "metrics"
-- @include "now_ms"
-- @include "wake"
local prefix, hard, worker, lease, max = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = now_ms()
local now_s = int(now)
local lease_end = int(now + tonumber(lease))
-- The paused ones are skipped: one SMISMEMBER (Redis 6.2+) per 1,000 served queues (within Lua's
-- unpack limit), not one SISMEMBER each.
local queues = {}
for first = 6, #ARGV, 1000 do
  local last = math.min(#ARGV, first + 999)
  local paused = redis.call('SMISMEMBER', KEYS[4], unpack(ARGV, first, last))
  for i = first, last do
    if paused[i - first + 1] == 0 then queues[#queues + 1] = ARGV[i] end
  end
end
local out = {}
local leases = {}
local drained = {}
local priorities = {'high', 'normal', 'low'}
for _, priority in ipairs(priorities) do
  for _, queue in ipairs(queues) do
    local list = list_key(prefix, queue, priority)
    while #out < max do
      -- RPOP with a count (Redis 6.2+): one call per list instead of one per job.
      local wanted = max - #out
      local ids = redis.call('RPOP', list, wanted)
      if not ids then
        drained[list] = true
        break
      end
      for _, id in ipairs(ids) do
        local key = prefix .. 'job:' .. id
        local job = redis.call('HMGET', key, 'state', 'claims', 'type', 'payload', 'attempts',
          'max_attempts', 'timeout_ms', 'enqueued_at', 'crashes', 'created_at', 'unique_key')
        if job[1] == 'queued' then
          local claims = int((tonumber(job[2]) or 0) + 1)
          local token = worker .. '#' .. claims
          if redis.call('SET', prefix .. 'lock:' .. id, token, 'NX', 'PX', lease) then
            local attempts = int((tonumber(job[5]) or 0) + 1)
            redis.call('HSET', key, 'state', 'running', 'claims', claims, 'token', token, 'worker', worker,
              'attempts', attempts, 'started_at', now_s, 'updated_at', now_s)
            leases[#leases + 1] = lease_end
            leases[#leases + 1] = id
            move_count(queue, 'queued', 'running')
            local waited = now - (tonumber(job[8]) or now)
            emit(KEYS[3], id, 'started', now_s, 'attempt', attempts, 'worker', worker, 'queued_ms', int(waited))
            observe_metric('wait', queue, job[3], waited)
            -- Every field has a value, so a hash missing one (damaged by hand) cannot cut the row short.
            out[#out + 1] = {id, token, job[3] or '', queue, priority, job[4] or '', attempts, job[6] or '1',
              job[7] or '0', job[8] or now_s, job[9] or '0', job[10] or '', now_s, job[11] or ''}
          end
        end
      end
      if #ids < wanted then
        drained[list] = true
        break
      end
    end
    if #out >= max then break end
  end
  if #out >= max then break end
end
-- A claim that took its max leaves a wake token for each queue that still has jobs. Lists this call
-- emptied are known to be empty (the script runs alone): no LLEN for them. The wake list is looked
-- at first: while a worker claims without blocking (all its slots busy again), the token the claim
-- before it left is still there, and then the queue's lists need no LLEN (one call instead of two).
if #out >= max then
  for _, queue in ipairs(queues) do
    local lists = {}
    for _, priority in ipairs(priorities) do
      local list = list_key(prefix, queue, priority)
      if not drained[list] then lists[#lists + 1] = list end
    end
    local wakes = wake_key(prefix, queue)
    if #lists > 0 and redis.call('LLEN', wakes) == 0 then
      for _, list in ipairs(lists) do
        if redis.call('LLEN', list) > 0 then
          redis.call('LPUSH', wakes, '1')
          break
        end
      end
    end
  end
end
-- The leases, with one ZADD per call (up to 1,000 jobs per ZADD, within Lua's unpack limit).
for first = 1, #leases, 2000 do
  redis.call('ZADD', KEYS[1], unpack(leases, first, math.min(#leases, first + 1999)))
end
flush_metrics(prefix)
flush_counts(prefix)
if #out > 0 then cap_events(hard) end
return out
