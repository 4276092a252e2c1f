-- cancel: stops a job that has not finished. Queued and scheduled/retrying jobs are cancelled at
-- once and leave their list or the delayed set; a running job is marked cancelled at once and its
-- worker, told by its next heartbeat, cancels the handler (its later ack changes nothing). The mark
-- is in the hash and in the lock (its value gets CANCELLED_MARK: see lock_marks.lua).
-- KEYS[1] delayed zset   KEYS[2] stats hash   KEYS[3] events stream   KEYS[4] dead zset
-- ARGV[1] key prefix   ARGV[2] events hard cap   ARGV[3] job id   ARGV[4] keep finished ms
-- Returns {"cancelled", previous state}, {"finished", state} (nothing changed) or {"notfound", ""}.
-- @include "counts"
-- @include "emit"
-- @include "expire_finished"
-- @include "list_key"
-- @include "lock_marks"
-- @include "now_ms"
-- @include "release_unique"
local prefix, hard, id, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now_s = int(now_ms())
local key = prefix .. 'job:' .. id
local job = redis.call('HMGET', key, 'state', 'queue', 'priority', 'unique_key', 'token')
local state = job[1]
if not state then return {'notfound', ''} end
if state == 'succeeded' or state == 'dead' or state == 'cancelled' then return {'finished', state} end
if state == 'queued' then
  redis.call('LREM', list_key(prefix, job[2], job[3]), 1, id)
elseif state == 'scheduled' or state == 'retrying' then
  redis.call('ZREM', KEYS[1], id)
elseif state == 'running' and job[5] then
  -- XX: a lock already gone (its lease expired) stays gone; KEEPTTL: the lease is unchanged.
  local lock = prefix .. 'lock:' .. id
  if redis.call('GET', lock) == job[5] then redis.call('SET', lock, job[5] .. CANCELLED_MARK, 'XX', 'KEEPTTL') end
end
redis.call('HSET', key, 'state', 'cancelled', 'finished_at', now_s, 'updated_at', now_s)
release_unique(prefix, id, job[4])
move_count(job[2], state, 'cancelled')
flush_counts(prefix)
redis.call('HINCRBY', KEYS[2], 'cancelled', 1)
emit(KEYS[3], id, 'cancelled', now_s, 'from', state)
cap_events(hard)
if state ~= 'running' then expire_finished(key, keep) else redis.call('PEXPIRE', key, int(math.max(tonumber(keep), 600000))) end
return {'cancelled', state}
