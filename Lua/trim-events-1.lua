-- trim-events: trims the event stream on a schedule (the promoter calls it about once a second)
-- instead of on every write, and loses nothing a history writer still needs: with a consumer group
-- `group`, only entries it has delivered and acknowledged go (ids below both the oldest entry still
-- pending and the one after its last-delivered id), and only down to about `soft` entries, the
-- newest, which the live feed replays from (`since`). Without that group (no history writer ever
-- ran) the stream is kept near `soft` entries. Past `hard` entries it is trimmed to about `hard`
-- whatever was read (the scripts do the same on every call: the memory guard of last resort).
-- XTRIM ... ~ removes whole stream nodes only; its LIMIT caps the entries removed, so the stream never
-- goes below `soft` (https://redis.io/docs/latest/commands/xtrim/).
-- KEYS[1] events stream
-- ARGV[1] soft cap (entries)   ARGV[2] hard cap (entries)   ARGV[3] consumer group of the history writers
-- Returns the number of entries removed.
local soft, hard, group = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local length = redis.call('XLEN', KEYS[1])
local removed = 0
if length > hard then
  removed = redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', hard, 'LIMIT', 0)
  length = length - removed
end
if length <= soft then return removed end

-- The first id the history writers still need, or nil without their group.
local needed = nil
for _, row in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
  if info['name'] == group then
    if tonumber(info['pending']) > 0 then
      needed = redis.call('XPENDING', KEYS[1], group)[2]
    else
      local ms, seq = string.match(info['last-delivered-id'], '^(%d+)-(%d+)$')
      needed = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    end
  end
end
if needed == nil then
  return removed + redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', soft, 'LIMIT', 0)
end
return removed + redis.call('XTRIM', KEYS[1], 'MINID', '~', needed, 'LIMIT', length - soft)
