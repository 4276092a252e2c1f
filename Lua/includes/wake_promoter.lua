-- wake_promoter(delayed, promoter_wake, due): wakes a promoter when a due time earlier than every
-- other one arrives.
local function wake_promoter(delayed, promoter_wake, due)
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] == nil or tonumber(first[2]) >= due then
    if redis.call('LLEN', promoter_wake) == 0 then redis.call('LPUSH', promoter_wake, '1') end
  end
end
