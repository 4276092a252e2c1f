-- @include "call_state"
-- Per-queue counts of the jobs outside the lists, in the hash `{ns}:counts` that Broker.queueCounts
-- reads in one HGETALL: fields "delayed:<queue>" (state scheduled or retrying), "running:<queue>"
-- (state running) and "dead:<queue>" (state dead); queue names never contain ':'. The field "ready"
-- says the counters were (re)built from a scan once (Lua/rebuild-counts-4.lua); from then on every
-- script that changes a job's state moves its count with move_count(queue, from, to) and writes the
-- sums once, with flush_counts(prefix), before it returns: one HINCRBY per field touched per call,
-- none for queued jobs. A call that failed half-way writes the moves of the state changes it made
-- (Redis keeps those) at its end (on_call_end), and the increments are reset when a call starts.
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
on_call_start(function() count_increments = {} end)
-- Whatever a call gathered and did not flush (it failed half-way) is written at its end.
on_call_end(function() if next(count_increments) then flush_counts(call_prefix) end end)
