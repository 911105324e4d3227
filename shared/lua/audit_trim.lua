-- Trim the audit stream up to the committed archive watermark, keeping the newest entries.
--
-- KEYS[1]  the audit stream
-- KEYS[2]  the watermark mirror (string: stream id of the newest archived event)
-- ARGV[1]  committed watermark: stream id of the newest event committed to SQL
-- ARGV[2]  keep: entries that always stay in the stream (AUDIT_MAX_EVENTS)
-- ARGV[3]  most entries removed by this call (bounds the work of one script)
--
-- Returns the number of entries removed.
--
-- Only entries with id <= ARGV[1] are ever removed, and never one of the newest ARGV[2]: the
-- oldest min(XLEN - keep, limit) entries are read, cut at the watermark, and everything up to
-- and including the last of them removed (XTRIM MINID removes ids strictly below its argument,
-- so the last one goes by XDEL: no arithmetic on 64-bit sequence numbers in Lua doubles).
redis.call('SET', KEYS[2], ARGV[1])
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[2])
if excess <= 0 then
  return 0
end
local n = math.min(excess, tonumber(ARGV[3]))
local oldest = redis.call('XRANGE', KEYS[1], '-', ARGV[1], 'COUNT', n)
if #oldest == 0 then
  return 0
end
local last = oldest[#oldest][1]
local removed = redis.call('XTRIM', KEYS[1], 'MINID', last)
removed = removed + redis.call('XDEL', KEYS[1], last)
return removed
