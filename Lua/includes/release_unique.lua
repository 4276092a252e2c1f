-- release_unique(prefix, id, unique): frees a finished job's unique key, if it still names this job.
local function release_unique(prefix, id, unique)
  if unique and unique ~= '' then
    local key = prefix .. 'unique:' .. unique
    if redis.call('GET', key) == id then redis.call('DEL', key) end
  end
end
