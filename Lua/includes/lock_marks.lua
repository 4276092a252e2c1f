-- The lock `{ns}:lock:<id>` of a running job holds its claim's token (claim-4.lua sets it with the
-- hash's `token`, SET NX PX). Cancelling a running job appends CANCELLED_MARK to the lock's value
-- (cancel-4.lua), so the job's heartbeat, ack and requeue learn it from the lock alone: complete-3.lua
-- fences with one GETDEL instead of reading the hash first.
local CANCELLED_MARK = '!cancelled'

-- holds_lock(value, token): the lock's value `value` says the claim with `token` still holds the job,
-- cancelled or not (nil value or token: no).
local function holds_lock(value, token)
  return token ~= nil and (value == token or value == token .. CANCELLED_MARK)
end
