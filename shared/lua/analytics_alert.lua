-- Raise an anomaly alert at most once per cooldown: SET NX the dedupe key, then XADD.
-- KEYS[1]  dedupe STRING for (metric, direction)
-- KEYS[2]  alerts STREAM
-- ARGV[1]  cooldown, milliseconds (int)
-- ARGV[2]  approximate MAXLEN of the alerts stream (int)
-- ARGV[3..] field, value pairs of the alert
-- Returns  the new alert's stream id, or false when an alert was raised within the cooldown.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', tonumber(ARGV[1])) then
  return false
end
local fields = {}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', tonumber(ARGV[2]), '*', unpack(fields))
