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
-- Only entries with id <= ARGV[1] are ever removed, and never one of the newest ARGV[2].
-- Fast path (the usual case right after archiving): at most `keep` entries lie above the
-- watermark, so the oldest XLEN - keep are all archived and XTRIM MAXLEN removes them natively.
-- Slow path (a backlog above the watermark larger than `keep`): read the oldest entries up to
-- the watermark and remove through the last of them (XTRIM MINID removes ids strictly below its
-- argument, so that last one goes by XDEL: no 64-bit sequence arithmetic in Lua doubles).
redis.call('SET', KEYS[2], ARGV[1])
local keep = tonumber(ARGV[2])
local len = redis.call('XLEN', KEYS[1])
local excess = len - keep
if excess <= 0 then
  return 0
end
local n = math.min(excess, tonumber(ARGV[3]))
local above = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', keep + 1)
if #above <= keep then
  return redis.call('XTRIM', KEYS[1], 'MAXLEN', '=', len - n)
end
local oldest = redis.call('XRANGE', KEYS[1], '-', ARGV[1], 'COUNT', n)
if #oldest == 0 then
  return 0
end
local last = oldest[#oldest][1]
local removed = redis.call('XTRIM', KEYS[1], 'MINID', last)
removed = removed + redis.call('XDEL', KEYS[1], last)
return removed
