-- @include "call_state"
-- The event stream: one entry per script call (not one per event), holding every event of the call
-- in order, each starting with its `job` field:
--   ts <now> job <id> event <name> <field> <value> ... job <id> event <name> ...
-- Fields before the first `job` (the time) belong to every event of the entry; a queue event
-- (`paused`, `resumed`) has an empty `job`. An entry holds at most EVENTS_PER_ENTRY events, so an
-- event's position `<ms>-<entry seq * 1000 + index>` (Sources/ConveyorHistory HistoryEvent) orders
-- every event of the namespace. Why: an XADD per event cost ~2.7 us of Redis time per event, one per
-- 10 events ~1.7 us (2,000 enqueued events in one EVAL, 16 fields each); 20, 50 or 100 per entry
-- saved nothing more, while the caps, counted in entries, would hold more events each (with 20, the
-- default cap held 3.8 times the memory of one event per entry in `make bench`).
-- The stream is not trimmed here: the promoter trims it on a schedule, only below what the history
-- writers acknowledged (Lua/trim-events-1.lua); scripts enforce only the hard cap, with the XADD of
-- cap_events.
local EVENTS_PER_ENTRY = 10
local event_stream = nil
local event_args = {}
local event_count = 0
local event_time = nil

-- flush_events(hard): writes the events gathered so far as one entry (nothing when there are none);
-- with `hard`, trims the stream to about `hard` entries in the same XADD when it is longer.
local function flush_events(hard)
  if event_count > 0 then
    if hard then
      redis.call('XADD', event_stream, 'MAXLEN', '~', hard, '*', unpack(event_args))
    else
      redis.call('XADD', event_stream, '*', unpack(event_args))
    end
  end
  event_args, event_count = {}, 0
end
on_call_start(function() event_stream, event_args, event_count, event_time = nil, {}, 0, nil end)
on_call_end(flush_events)

-- emit(events, id, name, now, field, value, ...): adds one event (job `id`, or '' for a queue event)
-- at `now` (text, milliseconds) to the call's entry in the stream `events`.
local function emit(events, id, name, now, ...)
  -- The values, taken once: select(i, ...) in a loop copies the rest of the arguments at every step.
  local count = select('#', ...)
  local values = {...}
  -- Checked first, so a missing value leaves the call's entry as it was (HMGET gives false for one).
  for i = 1, count do
    local value = values[i]
    if value == nil or value == false then error('emit ' .. name .. ': field ' .. i .. ' is missing') end
  end
  if event_count >= EVENTS_PER_ENTRY or (event_stream and event_stream ~= events) then flush_events() end
  event_stream = events
  local args = event_args
  local n = #args
  if n == 0 then
    args[1], args[2] = 'ts', now
    event_time, n = now, 2
  end
  args[n + 1], args[n + 2], args[n + 3], args[n + 4] = 'job', id, 'event', name
  n = n + 4
  if now ~= event_time then
    args[n + 1], args[n + 2] = 'ts', now
    n = n + 2
  end
  for i = 1, count do args[n + i] = values[i] end
  event_count = event_count + 1
end

-- cap_events(hard): writes the call's last entry and, in the same XADD, the memory guard of
-- last resort: past `hard` entries the stream is trimmed to about that length, read or not (the
-- history lag alarm fires long before; see trim-events-1.lua for the trimming that loses nothing).
-- XADD ... MAXLEN ~ costs nothing until the stream is past `hard` (an XLEN per call did before).
local function cap_events(hard)
  flush_events(hard)
end
