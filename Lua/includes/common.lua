-- Shared helpers, inlined at build time into every broker script that includes "common".
-- Time comes from Redis (TIME), so every process agrees on "now" whatever its own clock says.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Appends one state change to the event stream, capped near `maxlen` entries.
local function emit(events, maxlen, id, name, now, ...)
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'job', id, 'event', name, 'ts', now, ...)
end

-- The same without trimming, for scripts that append many events and trim once at the end.
local function emit_untrimmed(events, id, name, now, ...)
  redis.call('XADD', events, '*', 'job', id, 'event', name, 'ts', now, ...)
end

local function trim_events(events, maxlen)
  redis.call('XTRIM', events, 'MAXLEN', '~', maxlen)
end

local function list_key(prefix, queue, priority)
  return prefix .. 'q:' .. queue .. ':' .. priority
end

-- Leaves one wake token for the workers blocked in BRPOP on this queue (never more than one waits).
local function wake(prefix, queue)
  local key = prefix .. 'wake:' .. queue
  if redis.call('LLEN', key) == 0 then redis.call('LPUSH', key, '1') end
end

-- Wakes a promoter when a due time earlier than every other one arrives.
local function wake_promoter(delayed, promoter_wake, due)
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] == nil or tonumber(first[2]) >= due then
    if redis.call('LLEN', promoter_wake) == 0 then redis.call('LPUSH', promoter_wake, '1') end
  end
end

local function release_unique(prefix, id, unique)
  if unique and unique ~= '' then
    local key = prefix .. 'unique:' .. unique
    if redis.call('GET', key) == id then redis.call('DEL', key) end
  end
end

-- A finished job's hash stays `keep` ms for inspection, then leaves Redis (0: at once).
local function expire_finished(key, keep)
  keep = tonumber(keep)
  if keep <= 0 then redis.call('DEL', key) else redis.call('PEXPIRE', key, keep) end
end

-- Per-queue counts of the jobs outside the lists, in the hash `{ns}:counts` that Broker.queueCounts
-- reads in one HGETALL: fields "delayed:<queue>" (state scheduled or retrying), "running:<queue>"
-- (state running) and "dead:<queue>" (state dead); queue names never contain ':'. The field "ready"
-- says the counters were (re)built from a scan once (Lua/rebuild-counts-4.lua); from then on every
-- script that changes a job's state moves its count with move_count and writes the sums once, with
-- flush_counts, before it returns: one HINCRBY per field touched per call, none for queued jobs.
local COUNTED = {scheduled = 'delayed', retrying = 'delayed', running = 'running', dead = 'dead'}
local count_increments = {}
local function move_count(queue, from, to)
  if not queue then return end
  local a, b = COUNTED[from or ''], COUNTED[to or '']
  if a == b then return end
  if a then count_increments[a .. ':' .. queue] = (count_increments[a .. ':' .. queue] or 0) - 1 end
  if b then count_increments[b .. ':' .. queue] = (count_increments[b .. ':' .. queue] or 0) + 1 end
end
local function flush_counts(prefix)
  local key = prefix .. 'counts'
  for field, n in pairs(count_increments) do
    if n ~= 0 then redis.call('HINCRBY', key, field, n) end
  end
  count_increments = {}
end

-- Keeps at most `max` dead jobs; the oldest go first, each with a `dropped` event.
local function cap_dead(prefix, dead, events, maxlen, max, now)
  local excess = redis.call('ZCARD', dead) - tonumber(max)
  if excess > 0 then
    local dropped = redis.call('ZPOPMIN', dead, excess)
    for i = 1, #dropped, 2 do
      local job = redis.call('HMGET', prefix .. 'job:' .. dropped[i], 'state', 'queue')
      move_count(job[2], job[1], nil)
      redis.call('DEL', prefix .. 'job:' .. dropped[i])
      emit(events, maxlen, dropped[i], 'dropped', now, 'reason', 'dead-letter queue over its cap of ' .. max)
    end
  end
end

-- The wait before the next attempt, from the retry policy stored with the job:
-- "none", "fixed:<ms>[:<jitter>]" or "exponential:<base ms>:<cap ms>[:<jitter>]"; jitter j in [0,1]
-- keeps (1-j) of the delay and draws the rest at random (`rand` in [0,1) comes from the caller).
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

-- Cluster-wide job metrics, in the hash `{ns}:metrics` that `conveyor serve` exports on /metrics.
-- Fields join their parts with byte 31 (no queue or type contains it): "c" counters
-- c|<name>|<queue>|<type> (enqueued, succeeded, failed, dead), and histograms of milliseconds
-- h|<name>|<queue>|<type>|<bucket> (bucket i counts values <= METRIC_BUCKETS[i], the one past the
-- end the rest) with their sums s|<name>|<queue>|<type>; names: run (execution time of an attempt),
-- wait (enqueue to start). A script adds up its increments and writes them once, with
-- flush_metrics, before it returns: one HINCRBY per field touched, not per job.
local METRIC_BUCKETS = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}
local metric_increments = {}
local function count_metric(name, queue, jtype, n)
  local field = 'c\31' .. name .. '\31' .. (queue or '') .. '\31' .. (jtype or '')
  metric_increments[field] = (metric_increments[field] or 0) + n
end
local function observe_metric(name, queue, jtype, ms)
  if ms < 0 then ms = 0 end
  local bucket = #METRIC_BUCKETS + 1
  for i = 1, #METRIC_BUCKETS do
    if ms <= METRIC_BUCKETS[i] then bucket = i break end
  end
  local series = name .. '\31' .. (queue or '') .. '\31' .. (jtype or '')
  local field = 'h\31' .. series .. '\31' .. bucket
  metric_increments[field] = (metric_increments[field] or 0) + 1
  field = 's\31' .. series
  metric_increments[field] = (metric_increments[field] or 0) + ms
end
local function flush_metrics(prefix)
  local key = prefix .. 'metrics'
  for field, n in pairs(metric_increments) do redis.call('HINCRBY', key, field, n) end
end
