-- expire_finished(key, keep): a finished job's hash stays `keep` ms for inspection, then leaves
-- Redis (0: at once).
local function expire_finished(key, keep)
  if keep == '0' or tonumber(keep) <= 0 then redis.call('DEL', key) else redis.call('PEXPIRE', key, keep) end
end
