-- Decay the query-popularity ZSET to "now" and trim it to its most popular members.
-- KEYS[1]  popularity ZSET (member = query hash, score = decayed count)
-- KEYS[2]  STRING: when the ZSET was last decayed, integer microseconds
-- ARGV[1]  half-life, seconds (float)
-- ARGV[2]  members to keep (int)
-- ARGV[3]  now, integer microseconds; empty = redis TIME
-- Returns  the decay factor applied (as a string), "1" on the first call.
local now = clock_us(ARGV[3])
local last = tonumber(redis.call('GET', KEYS[2]))
local factor = 1
if last ~= nil and now > last then
  factor = math.pow(0.5, ((now - last) / 1000000) / tonumber(ARGV[1]))
  redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[1], 'WEIGHTS', factor)
  -- members decayed to almost nothing carry no signal
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(0.001')
end
if last == nil or now > last then
  redis.call('SET', KEYS[2], string.format('%d', now))
end
local keep = tonumber(ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(keep + 1))
return tostring(factor)
