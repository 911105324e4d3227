-- Settle a token reservation made by guard.lua: charge or refund the difference between the
-- actual cost and what was reserved, once. A missing record (already settled, or expired: an
-- unsettled reservation releases itself) changes nothing.
--
-- KEYS[1..n]   the FIRST n policy keys of the reserving call, in its order (callers put the
--              token policies first; the request-count policies after them are not settled)
-- KEYS[n+1]    the reservation record (string: reserved units per policy, space separated)
-- ARGV[1]      now in integer microseconds, or '' for the server clock (TIME)
-- ARGV[2]      n
-- ARGV[3]      actual cost (units, integer >= 0)
-- ARGV[4..]    per policy i: emission interval T (us)
-- returns      {1, then per policy the applied difference in units} when settled, {0} when
--              there was no record. A refund never moves the state below now (unused capacity
--              that has already elapsed cannot be given back); a charge may exceed the burst
--              (the tokens were spent), which delays the next admission.
local now = clock_us(ARGV[1])
local n = tonumber(ARGV[2])
local record = redis.call('GET', KEYS[n + 1])
if not record then return {0} end
redis.call('DEL', KEYS[n + 1])
local reserved = {}
for v in string.gmatch(record, '%S+') do table.insert(reserved, tonumber(v)) end
local actual = tonumber(ARGV[3])
local out = {1}
for i = 1, n do
  local t = tonumber(ARGV[3 + i])
  local diff = 0
  if reserved[i] and reserved[i] > 0 then diff = actual - reserved[i] end
  if diff ~= 0 then
    local tat = tonumber(redis.call('GET', KEYS[i]) or now)
    if tat < now then tat = now end
    tat = tat + diff * t
    if tat < now then tat = now end
    if tat > now then
      redis.call('SET', KEYS[i], string.format('%d', tat),
        'PXAT', string.format('%d', math.ceil(tat / 1000)))
    else
      redis.call('DEL', KEYS[i])
    end
  end
  table.insert(out, diff)
end
return out
