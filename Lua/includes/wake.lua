-- wake(prefix, queue): leaves one wake token for the workers blocked in BRPOP on this queue (never
-- more than one waits).
local function wake(prefix, queue)
  local key = prefix .. 'wake:' .. queue
  if redis.call('LLEN', key) == 0 then redis.call('LPUSH', key, '1') end
end
