-- heartbeat: a worker's periodic call. Extends the lock and lease of every job it still holds,
-- reports the ones it lost (lock gone or another token: stop the handler, do not complete) and the
-- ones cancelled while running (the lock's value says so: lock_marks.lua), and refreshes the
-- worker's registration.
-- KEYS[1] inflight zset   KEYS[2] workers zset
-- ARGV[1] key prefix   ARGV[2] lease ms   ARGV[3] worker id   ARGV[4] worker info JSON
-- ARGV[5] registration ttl ms   ARGV[6...] pairs: id, token
-- Returns {lost ids, cancelled ids}.
-- @include "lock_marks"
-- @include "now_ms"
local prefix, lease, worker, info, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = now_ms()
local lease_end = int(now + lease)
local lost, cancelled = {}, {}
for i = 6, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local lock = prefix .. 'lock:' .. id
  local held = redis.call('GET', lock)
  -- The hash is read as well (a heartbeat is not on a job's path): a cancel that marked only the hash
  -- (an older cancel-4.lua) is still seen here.
  if held == token and redis.call('HGET', prefix .. 'job:' .. id, 'state') == 'running' then
    redis.call('PEXPIRE', lock, ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', lease_end, id)
  elseif holds_lock(held, token) then
    cancelled[#cancelled + 1] = id
  else
    lost[#lost + 1] = id
  end
end
redis.call('ZADD', KEYS[2], int(now), worker)
redis.call('SET', prefix .. 'worker:' .. worker, info, 'PX', ttl)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', int(now - ttl))
for _, old in ipairs(gone) do
  redis.call('ZREM', KEYS[2], old)
  redis.call('DEL', prefix .. 'worker:' .. old)
end
return {lost, cancelled}
