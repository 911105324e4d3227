-- Drop the expired members of one session zset (the sweep; correctness never depends on it).
-- KEYS[1]   a session zset (member = session id, score = deadline, integer us)
-- ARGV[1]   now in integer microseconds, or '' for the server clock (TIME)
-- returns   {removed, live} member counts
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
return {removed, redis.call('ZCARD', KEYS[1])}
