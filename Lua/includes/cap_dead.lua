-- @include "counts"
-- @include "emit"
-- cap_dead(prefix, dead, events, max, now): keeps at most `max` dead jobs; the oldest go first, each
-- with a `dropped` event.
local function cap_dead(prefix, dead, events, max, now)
  local excess = redis.call('ZCARD', dead) - tonumber(max)
  if excess > 0 then
    local dropped = redis.call('ZPOPMIN', dead, excess)
    for i = 1, #dropped, 2 do
      local job = redis.call('HMGET', prefix .. 'job:' .. dropped[i], 'state', 'queue')
      move_count(job[2], job[1], nil)
      redis.call('DEL', prefix .. 'job:' .. dropped[i])
      emit(events, dropped[i], 'dropped', now, 'reason', 'dead-letter queue over its cap of ' .. max)
    end
  end
end
