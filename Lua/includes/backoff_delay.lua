-- backoff_delay(policy, attempt, rand): the wait in ms before the next attempt, from the retry
-- policy stored with the job: "none", "fixed:<ms>[:<jitter>]" or
-- "exponential:<base ms>:<cap ms>[:<jitter>]"; jitter j in [0,1] keeps (1-j) of the delay and draws
-- the rest at random (`rand` in [0,1) comes from the caller).
local function backoff_delay(policy, attempt, rand)
  local parts = {}
  for part in string.gmatch(policy or 'none', '[^:]+') do parts[#parts + 1] = part end
  local delay = 0
  local jitter = 0
  if parts[1] == 'fixed' then
    delay = tonumber(parts[2]) or 0
    jitter = tonumber(parts[3]) or 0
  elseif parts[1] == 'exponential' then
    local base = tonumber(parts[2]) or 0
    local cap = tonumber(parts[3]) or base
    local exponent = math.min(attempt - 1, 52)
    delay = math.min(cap, base * math.pow(2, exponent))
    jitter = tonumber(parts[4]) or 0
  end
  if jitter > 0 then delay = delay * (1 - jitter) + delay * jitter * tonumber(rand) end
  return math.floor(delay)
end
