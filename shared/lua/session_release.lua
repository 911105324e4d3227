-- Release a session by id (and drop expired members while here).
-- KEYS[1]   the user's session zset (member = session id, score = deadline, integer us)
-- ARGV[1]   now in integer microseconds, or '' for the server clock (TIME)
-- ARGV[2]   session id
-- returns   1 when the session was live and is now released, 0 otherwise (idempotent)
local now = clock_us(ARGV[1])
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
if score and tonumber(score) > now then return 1 end
return 0
