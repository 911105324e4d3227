-- Audit a refusal once per episode per actor, across every web process: the first refusal of
-- an episode is appended to the audit stream; the ones that follow while the episode marker
-- lives are counted and reported (`suppressed_since_last` in details) with the next one
-- appended. One script: the check, the count and the XADD are one atomic step.
--
-- KEYS[1]   episode marker (string), SET NX PX for the refusal's Retry-After
-- KEYS[2]   suppressed counter (string: refusals folded since the last appended event)
-- KEYS[3]   the audit stream
-- ARGV[1]   episode length in milliseconds (integer > 0)
-- ARGV[2]   suppressed counter TTL in milliseconds (integer > 0)
-- ARGV[3..] the event's stream fields, field1 value1 field2 value2 ...; the `details` value is
--           a JSON object
-- returns   the new stream id, or false when the refusal was folded into an open episode
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return false
end
local suppressed = tonumber(redis.call('GET', KEYS[2]) or '0')
local fields = {}
for i = 3, #ARGV, 2 do
  local value = ARGV[i + 1]
  if ARGV[i] == 'details' and suppressed > 0 then
    -- details is an object: '{}' or '{...}'; the count goes in as its first member
    local sep = value == '{}' and '' or ','
    value = '{"suppressed_since_last":' .. suppressed .. sep .. string.sub(value, 2)
  end
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = value
end
if suppressed > 0 then redis.call('DEL', KEYS[2]) end
return redis.call('XADD', KEYS[3], '*', unpack(fields))
