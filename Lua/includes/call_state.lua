-- on_call_start(reset) registers a function that clears per-call state (increments gathered for one
-- flush per call); begin_call(prefix) runs them and keeps the call's key prefix (ARGV[1] of every
-- script that gathers anything) as call_prefix. In the function library (FUNCTION LOAD) the chunk
-- runs once and its locals live on between calls, so every registered function starts with
-- begin_call(); run as a script (EVALSHA, Redis before 7.0), every call starts fresh anyway.
-- on_call_end(finish) registers a function that writes what a call gathered and has not written
-- yet (the event stream entry, counts, metrics); the build (Sources/Embed) runs end_call() after
-- every script's body, whichever way it returns or fails, so nothing gathered is left unwritten.
local call_resets = {}
local call_ends = {}
local call_prefix = nil
local function on_call_start(reset)
  call_resets[#call_resets + 1] = reset
end
local function begin_call(prefix)
  call_prefix = prefix
  for i = 1, #call_resets do call_resets[i]() end
end
local function on_call_end(finish)
  call_ends[#call_ends + 1] = finish
end
local function end_call()
  for i = 1, #call_ends do call_ends[i]() end
end
