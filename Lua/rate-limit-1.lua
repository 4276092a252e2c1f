-- rate-limit: admits or rejects one request of a client under a GCRA (generic cell rate algorithm)
-- limit, the clock being Redis's own, so every API replica shares one exact budget per client.
-- The key holds the client's theoretical arrival time (TAT) in microseconds; a request is admitted
-- when TAT + interval - now <= burst * interval. Over any span t starting from an idle client this
-- admits exactly burst + floor(t / interval) requests; the key expires once the client is idle.
-- KEYS[1] the client's rate-limit key
-- ARGV[1] emission interval in microseconds (period / rate, rounded up)   ARGV[2] burst (>= 1)
-- Returns {admitted 1|0, remaining, retry after in microseconds (0 when admitted),
--          microseconds until the budget is full again}.
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local tolerance = burst * interval
local new_tat = tat + interval
local excess = new_tat - now - tolerance
if excess > 0 then
  return {0, 0, excess, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((tolerance - (new_tat - now)) / interval), 0, new_tat - now}
