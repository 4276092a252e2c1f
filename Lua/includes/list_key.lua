-- list_key(prefix, queue, priority): the list a queued job waits in, `{ns}:q:<queue>:<priority>`.
local function list_key(prefix, queue, priority)
  return prefix .. 'q:' .. queue .. ':' .. priority
end
