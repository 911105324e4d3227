-- Acquire (or renew) a session slot: drop expired members, then add this one if under the limit.
-- KEYS[1]   the user's session zset (member = session id, score = deadline, integer us)
-- ARGV[1]   now in integer microseconds, or '' for the server clock (TIME)
-- ARGV[2]   session id
-- ARGV[3]   session TTL in microseconds (deadline = now + TTL)
-- ARGV[4]   limit (live sessions per user)
-- ARGV[5]   '1' to evict the oldest live sessions at the limit, '0' to reject the newest
-- returns   {status, deadline us, retry_after us, evicted ids...}: status 1 acquired, 2 renewed
--           (the id was already live: idempotent), 0 rejected (retry_after = time until the
--           earliest live session expires). The zset expires at its last deadline (PEXPIREAT).
local now = clock_us(ARGV[1])
local key, id = KEYS[1], ARGV[2]
local deadline = now + tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now))

local status = 1
local evicted = {}
if redis.call('ZSCORE', key, id) then
  status = 2
else
  local count = redis.call('ZCARD', key)
  if count >= limit then
    if ARGV[5] ~= '1' then
      local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      return {0, 0, tonumber(first[2]) - now}
    end
    local popped = redis.call('ZPOPMIN', key, count - limit + 1)
    for i = 1, #popped, 2 do table.insert(evicted, popped[i]) end
  end
end
redis.call('ZADD', key, string.format('%d', deadline), id)
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, string.format('%d', math.ceil(tonumber(last[2]) / 1000)))
local out = {status, deadline, 0}
for _, e in ipairs(evicted) do table.insert(out, e) end
return out
