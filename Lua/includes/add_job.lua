-- @include "now_ms"
-- @include "counts"
-- @include "emit"
-- @include "list_key"
-- @include "metrics"
-- add_job(prefix, events, delayed, id, job, due, now, now_s, extra): writes a new job, as enqueue and
-- fire-schedule create one: its hash, then queued (pushed on its priority list; `due` <= `now`) or
-- scheduled (in the delayed set at `due`), its count and `enqueued` metric, and its `enqueued` event
-- (which carries the payload, so the history has it even after the hash is gone). `job` holds type,
-- queue, priority, payload, max_attempts, backoff, timeout_ms (text as stored); `extra` is a list of
-- field/value pairs stored and sent with the event too (unique_key is stored only). Returns the state.
-- The caller wakes the queue (once per queue per call) or the promoter, and counts `enqueued` in stats.
local function add_job(prefix, events, delayed, id, job, due, now, now_s, extra)
  local key = prefix .. 'job:' .. id
  local state, timing, timing_value
  if due > now then
    state, timing, timing_value = 'scheduled', 'run_at', int(due)
    redis.call('ZADD', delayed, timing_value, id)
    move_count(job.queue, nil, 'scheduled')
  else
    state, timing, timing_value = 'queued', 'enqueued_at', now_s
    redis.call('LPUSH', list_key(prefix, job.queue, job.priority), id)
  end
  redis.call('HSET', key, 'id', id, 'type', job.type, 'queue', job.queue, 'priority', job.priority,
    'payload', job.payload, 'state', state, 'max_attempts', job.max_attempts, 'backoff', job.backoff,
    'timeout_ms', job.timeout_ms, 'created_at', now_s, timing, timing_value, unpack(extra))
  local event = {'state', state, 'type', job.type, 'queue', job.queue, 'priority', job.priority,
    'payload', job.payload, 'max_attempts', job.max_attempts}
  if state == 'scheduled' then
    event[#event + 1] = 'run_at'
    event[#event + 1] = timing_value
  end
  for i = 1, #extra, 2 do
    if extra[i] ~= 'unique_key' then
      event[#event + 1] = extra[i]
      event[#event + 1] = extra[i + 1]
    end
  end
  emit(events, id, 'enqueued', now_s, unpack(event))
  count_metric('enqueued', job.queue, job.type, 1)
  return state
end
