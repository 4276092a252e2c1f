-- @include "now_ms"
-- @include "counts"
-- @include "emit"
-- @include "list_key"
-- @include "metrics"
-- add_job(prefix, events, delayed, pushes, id, jtype, queue, priority, payload, max_attempts, backoff,
--   timeout_ms, due, now, now_s, schedule, tick): writes a new job, as enqueue and fire-schedule create
-- one: its hash, then queued (its id added to `pushes[list]`, which the caller pushes with one LPUSH
-- per list: push_jobs; `due` <= `now`) or scheduled (in the delayed set at `due`), its count and
-- `enqueued` metric, and its `enqueued` event (which carries the payload, so the history has it even
-- after the hash is gone). Field values are text as stored; `schedule` and `tick` (nil for none) are
-- stored and sent with the event. Returns the state. The caller wakes the queue (once per queue per
-- call) or the promoter, and counts `enqueued` in stats. No table is made per job: at 1,000 jobs a
-- call, they were a measurable share of the call.
local function add_job(prefix, events, delayed, pushes, id, jtype, queue, priority, payload, max_attempts, backoff,
                       timeout_ms, due, now, now_s, schedule, tick)
  local key = prefix .. 'job:' .. id
  if due > now then
    local due_s = int(due)
    redis.call('ZADD', delayed, due_s, id)
    move_count(queue, nil, 'scheduled')
    redis.call('HSET', key, 'id', id, 'type', jtype, 'queue', queue, 'priority', priority, 'payload', payload,
      'state', 'scheduled', 'max_attempts', max_attempts, 'backoff', backoff, 'timeout_ms', timeout_ms,
      'created_at', now_s, 'run_at', due_s)
    emit(events, id, 'enqueued', now_s, 'state', 'scheduled', 'type', jtype, 'queue', queue, 'priority', priority,
      'payload', payload, 'max_attempts', max_attempts, 'run_at', due_s)
    count_metric('enqueued', queue, jtype, 1)
    return 'scheduled'
  end
  local list = list_key(prefix, queue, priority)
  local ids = pushes[list]
  if not ids then
    ids = {queue = queue}
    pushes[list] = ids
  end
  ids[#ids + 1] = id
  if schedule then
    redis.call('HSET', key, 'id', id, 'type', jtype, 'queue', queue, 'priority', priority, 'payload', payload,
      'state', 'queued', 'max_attempts', max_attempts, 'backoff', backoff, 'timeout_ms', timeout_ms,
      'created_at', now_s, 'enqueued_at', now_s, 'schedule', schedule, 'tick', tick)
    emit(events, id, 'enqueued', now_s, 'state', 'queued', 'type', jtype, 'queue', queue, 'priority', priority,
      'payload', payload, 'max_attempts', max_attempts, 'schedule', schedule, 'tick', tick)
  else
    redis.call('HSET', key, 'id', id, 'type', jtype, 'queue', queue, 'priority', priority, 'payload', payload,
      'state', 'queued', 'max_attempts', max_attempts, 'backoff', backoff, 'timeout_ms', timeout_ms,
      'created_at', now_s, 'enqueued_at', now_s)
    emit(events, id, 'enqueued', now_s, 'state', 'queued', 'type', jtype, 'queue', queue, 'priority', priority,
      'payload', payload, 'max_attempts', max_attempts)
  end
  count_metric('enqueued', queue, jtype, 1)
  return 'queued'
end

-- push_jobs(pushes): pushes the ids add_job collected, one LPUSH per list, in the order they came
-- (LPUSH a b c leaves c at the head, as three LPUSHes would). Returns the set of queues with a list
-- that was empty before (LPUSH answered the number it pushed): only those need their queue
-- registered and a wake token (see enqueue-4.lua).
local function push_jobs(pushes)
  local emptied_before = {}
  for list, ids in pairs(pushes) do
    for first = 1, #ids, 1000 do
      local last = math.min(#ids, first + 999)
      local length = redis.call('LPUSH', list, unpack(ids, first, last))
      if first == 1 and length == last then emptied_before[ids.queue] = true end
    end
  end
  return emptied_before
end
