-- on_call_start(reset) registers a function that clears per-call state (increments gathered for one
-- flush per call); begin_call() runs them. In the function library (FUNCTION LOAD) the chunk runs
-- once and its locals live on between calls, so every registered function starts with begin_call();
-- run as a script (EVALSHA, Redis before 7.0), every call starts fresh anyway.
local call_resets = {}
local function on_call_start(reset)
  call_resets[#call_resets + 1] = reset
end
local function begin_call()
  for i = 1, #call_resets do call_resets[i]() end
end
