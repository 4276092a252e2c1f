-- update: changes a job that has not started: priority, run time, payload, max_attempts, backoff,
-- timeout_ms, any of them. Only a scheduled, queued or retrying job changes; a running or finished
-- one is left exactly as it is. A new run time in the future makes a queued job scheduled (it leaves
-- its list for the delayed set); a run time now or past makes a scheduled or retrying job queued (at
-- the head of its list, like promote); a new priority moves a queued job to the head of the new
-- priority's list. Wakes the queue's workers or a promoter as enqueue does, keeps `{ns}:counts`, and
-- appends an `updated` event: `changed` (the changed fields, comma-separated), each one's new value,
-- and `state` and `from` when the job moved (no event when nothing changed). Input is validated by
-- the caller.
-- KEYS[1] delayed zset   KEYS[2] events stream   KEYS[3] promoter wake list
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] job id   ARGV[4] priority ("": unchanged)
-- ARGV[5] run at ms (-1: unchanged)   ARGV[6] delay ms (-1: unchanged; ARGV[5] wins)
-- ARGV[7] payload JSON ("": unchanged)   ARGV[8] max_attempts ("": unchanged)
-- ARGV[9] backoff, the encoded retry policy ("": unchanged)   ARGV[10] timeout_ms ("": unchanged)
-- Returns {"updated", state now, state before, changed fields joined by ","} (state now differs
-- only when the run time moved the job), {"refused", state} (running or finished: nothing changed)
-- or {"notfound", ""}.
-- @include "counts"
-- @include "emit"
-- @include "list_key"
-- @include "now_ms"
-- @include "wake"
-- @include "wake_promoter"
local prefix, hard, id = ARGV[1], ARGV[2], ARGV[3]
local priority, at, delay = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local payload, max_attempts, backoff, timeout = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local key = prefix .. 'job:' .. id
local job = redis.call('HMGET', key, 'state', 'queue', 'priority', 'run_at', 'payload', 'max_attempts', 'backoff', 'timeout_ms')
local state, queue = job[1], job[2]
if not state then return {'notfound', ''} end
if state ~= 'scheduled' and state ~= 'queued' and state ~= 'retrying' then return {'refused', state} end
local now = now_ms()
local now_s = int(now)
local changed = {}
local details = {}
local fields = {}
local function change(name, value)
  changed[#changed + 1] = name
  details[#details + 1] = name
  details[#details + 1] = value
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end

local old_priority = job[3]
local new_priority = old_priority
if priority ~= '' and priority ~= old_priority then
  new_priority = priority
  change('priority', priority)
end
local due = nil
if at >= 0 then due = at elseif delay >= 0 then due = now + delay end
local new_state = state
if due then
  if due > now then
    if state == 'queued' then new_state = 'scheduled' end
    if tonumber(job[4]) ~= due or new_state ~= state then change('run_at', int(due)) end
  elseif state ~= 'queued' then
    new_state = 'queued'
    change('run_at', int(due))
  end
end
if payload ~= '' and payload ~= job[5] then change('payload', payload) end
if max_attempts ~= '' and max_attempts ~= job[6] then change('max_attempts', max_attempts) end
if backoff ~= '' and backoff ~= job[7] then change('backoff', backoff) end
if timeout ~= '' and timeout ~= job[8] then change('timeout_ms', timeout) end
if #changed == 0 then return {'updated', state, state, ''} end

-- Where the job waits: take it out of its list or the delayed set, put it where it belongs now.
local in_list = state == 'queued'
local to_list = new_state == 'queued'
if in_list and (not to_list or new_priority ~= old_priority) then
  redis.call('LREM', list_key(prefix, queue, old_priority), 1, id)
end
if to_list and (not in_list or new_priority ~= old_priority) then
  redis.call('LPUSH', list_key(prefix, queue, new_priority), id)
  wake(prefix, queue)
end
if to_list and not in_list then
  redis.call('ZREM', KEYS[1], id)
  fields[#fields + 1] = 'enqueued_at'
  fields[#fields + 1] = now_s
elseif not to_list and due and due > now then
  wake_promoter(KEYS[1], KEYS[3], due)
  redis.call('ZADD', KEYS[1], int(due), id)
end
if new_state ~= state then
  details[#details + 1] = 'state'
  details[#details + 1] = new_state
  details[#details + 1] = 'from'
  details[#details + 1] = state
end
redis.call('HSET', key, 'state', new_state, 'updated_at', now_s, unpack(fields))
move_count(queue, state, new_state)
flush_counts(prefix)
emit(KEYS[2], id, 'updated', now_s, 'changed', table.concat(changed, ','), unpack(details))
cap_events(hard)
return {'updated', new_state, state, table.concat(changed, ',')}
