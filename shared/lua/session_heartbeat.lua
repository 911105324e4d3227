-- Extend a live session; never resurrect an expired or evicted one.
-- KEYS[1]   the user's session zset (member = session id, score = deadline, integer us)
-- ARGV[1]   now in integer microseconds, or '' for the server clock (TIME)
-- ARGV[2]   session id
-- ARGV[3]   session TTL in microseconds
-- returns   the new deadline (us) when the session was live, 0 when it is lost
local now = clock_us(ARGV[1])
local key, id = KEYS[1], ARGV[2]
local score = redis.call('ZSCORE', key, id)
if not score or tonumber(score) <= now then
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now))
  return 0
end
local deadline = now + tonumber(ARGV[3])
redis.call('ZADD', key, 'XX', string.format('%d', deadline), id)
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, string.format('%d', math.ceil(tonumber(last[2]) / 1000)))
return deadline
