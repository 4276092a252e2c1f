-- wake_key(prefix, queue): the list `{ns}:wake:<queue>` that a queue's idle workers BRPOP on.
local function wake_key(prefix, queue)
  return prefix .. 'wake:' .. queue
end

-- wake(prefix, queue): leaves one wake token for the workers blocked in BRPOP on this queue (never
-- more than one waits).
local function wake(prefix, queue)
  local key = wake_key(prefix, queue)
  if redis.call('LLEN', key) == 0 then redis.call('LPUSH', key, '1') end
end
