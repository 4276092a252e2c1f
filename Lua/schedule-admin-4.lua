-- schedule-admin: creates or replaces a schedule definition, removes, pauses or resumes one; every
-- change bumps its version so a promoter holding the old definition fires nothing from it.
-- KEYS[1] schedule hash   KEYS[2] schedules due zset   KEYS[3] schedule names set   KEYS[4] promoter wake list
-- ARGV[1] action: "upsert", "remove", "pause" or "resume"   ARGV[2] schedule name
-- ARGV[3] next fire ms (-1: none; upsert and resume)   then, for upsert, field/value pairs of the definition
-- Returns 1 when something changed (upsert: 1 created, 2 replaced), 0 when not (no such schedule,
-- already paused, not paused, or an upsert of the very definition already stored, which keeps its due
-- time: declaring schedules at every start-up does not lose the ticks a misfire policy would run).
local action, name, nextfire = ARGV[1], ARGV[2], tonumber(ARGV[3])
local exists = redis.call('EXISTS', KEYS[1]) == 1

-- Wakes a promoter when this schedule is now due before every other one.
local function schedule_due(at)
  if at < 0 then
    redis.call('ZREM', KEYS[2], name)
    return
  end
  redis.call('ZADD', KEYS[2], at, name)
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)
  if first[1] == name and redis.call('LLEN', KEYS[4]) == 0 then redis.call('LPUSH', KEYS[4], '1') end
end

if action == 'upsert' then
  local paused = exists and redis.call('HGET', KEYS[1], 'paused') or '0'
  local fields = {}
  local same = exists
  for i = 4, #ARGV do
    fields[#fields + 1] = ARGV[i]
    if same and (i % 2 == 0) and redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then same = false end
  end
  if same then return 0 end
  redis.call('HSET', KEYS[1], 'name', name, 'paused', paused, unpack(fields))
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('SADD', KEYS[3], name)
  if paused == '1' then redis.call('ZREM', KEYS[2], name) else schedule_due(nextfire) end
  if exists then return 2 end
  return 1
end
if not exists then return 0 end
if action == 'remove' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], name)
  redis.call('SREM', KEYS[3], name)
  return 1
end
local paused = redis.call('HGET', KEYS[1], 'paused') == '1'
if action == 'pause' then
  if paused then return 0 end
  redis.call('HSET', KEYS[1], 'paused', '1')
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('ZREM', KEYS[2], name)
  return 1
end
if action == 'resume' then
  if not paused then return 0 end
  redis.call('HSET', KEYS[1], 'paused', '0')
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  schedule_due(nextfire)
  return 1
end
return redis.error_reply('unknown action ' .. action)
