-- pause: pauses or resumes consumption of a queue. Workers skip a paused queue when they claim;
-- resuming wakes them. Jobs keep arriving in a paused queue.
-- KEYS[1] paused set   KEYS[2] events stream
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] queue   ARGV[4] "pause" or "resume"
-- Returns 1 when the queue's state changed, 0 when it already was so.
-- @include "emit"
-- @include "now_ms"
-- @include "wake"
local prefix, hard, queue, action = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local changed
if action == 'pause' then
  changed = redis.call('SADD', KEYS[1], queue)
else
  changed = redis.call('SREM', KEYS[1], queue)
  wake(prefix, queue)
end
redis.call('SADD', prefix .. 'queues', queue)
if changed == 1 then
  emit(KEYS[2], '', action .. 'd', int(now_ms()), 'queue', queue)
  cap_events(hard)
end
return changed
