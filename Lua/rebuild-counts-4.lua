-- rebuild-counts: (re)builds the per-queue counters of `{ns}:counts` from the jobs themselves, once:
-- for a namespace that predates them, or on demand (force). Every member of the delayed, inflight
-- and dead sets is read (state, queue) in this one atomic call, so the counters are exact when it
-- returns and the scripts keep them so from then on. It costs O(delayed + running + dead jobs) once:
-- 2.5-4 s of Redis per million such jobs (measured), during which Redis answers nothing else.
-- KEYS[1] counts hash   KEYS[2] delayed zset   KEYS[3] inflight zset   KEYS[4] dead zset
-- ARGV[1] key prefix   ARGV[2] "force" to rebuild even when the counters are ready, else ""
-- Returns the number of jobs counted, or -1 when the counters were ready already (nothing done).
-- @include "counts"
local prefix, force = ARGV[1], ARGV[2]
if force ~= 'force' and redis.call('HEXISTS', KEYS[1], 'ready') == 1 then return -1 end
local counted = 0
local tally = {}
for k = 2, 4 do
  local start = 0
  while true do
    local ids = redis.call('ZRANGE', KEYS[k], start, start + 999)
    for _, id in ipairs(ids) do
      local job = redis.call('HMGET', prefix .. 'job:' .. id, 'state', 'queue')
      local field = COUNTED[job[1] or '']
      -- A job is counted once, by its state, in the set that state belongs to.
      local expected = (k == 2 and 'delayed') or (k == 3 and 'running') or 'dead'
      if job[2] and field == expected then
        tally[field .. ':' .. job[2]] = (tally[field .. ':' .. job[2]] or 0) + 1
        counted = counted + 1
      end
    end
    if #ids < 1000 then break end
    start = start + #ids
  end
end
redis.call('DEL', KEYS[1])
local args = {'ready', '1'}
for field, n in pairs(tally) do
  args[#args + 1] = field
  args[#args + 1] = n
  if #args >= 1000 then
    redis.call('HSET', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
return counted
