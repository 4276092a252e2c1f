-- now_ms(): Redis's clock in milliseconds since 1970 (TIME), so every process agrees on "now"
-- whatever its own clock says; and int(n), an integer as the decimal text Redis stores. Lua numbers
-- passed to redis.call are formatted with "%.17g" (measured: a quarter of a microsecond each);
-- scripts pass int(now) once per call and int(x) for other integers.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%d', n)
end
