-- emit(events, id, name, now, field, value, ...): appends one job's state change to the event stream
-- (`now` as text). The stream is not trimmed here: the promoter trims it on a schedule, only below
-- what the history writers acknowledged (Lua/trim-events-1.lua); scripts only enforce the hard cap,
-- once per call, with cap_events.
local function emit(events, id, name, now, ...)
  redis.call('XADD', events, '*', 'job', id, 'event', name, 'ts', now, ...)
end

-- cap_events(events, hard): the memory guard of last resort, once per script call: past `hard`
-- entries the stream is trimmed to about that length, read or not (the history lag alarm fires long
-- before; see trim-events-1.lua for the trimming that loses nothing).
local function cap_events(events, hard)
  if redis.call('XLEN', events) > tonumber(hard) then redis.call('XTRIM', events, 'MAXLEN', '~', hard) end
end
