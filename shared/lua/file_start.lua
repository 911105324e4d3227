-- A delivery of files.process begins: count it, and refuse stale or poison deliveries.
--
-- KEYS[1]  the file's status hash (keys.file_status)
-- ARGV[1]  gen: the claim generation the message carries (0 = unknown: adopt the current one)
-- ARGV[2]  max_runs: deliveries allowed before the file is failed as poison
-- ARGV[3]  ttl_s: lifetime of the status hash, in seconds
-- ARGV[4]  now_us: current time in microseconds, or 0 to use the server's TIME
-- ARGV[5]  reason written when max_runs is exceeded
--
-- Returns {verdict, gen}: 'run' (go on, as generation gen), 'done' (already finished), 'failed'
-- (this generation already failed; a new upload claims a new one), 'stale' (a newer claim owns
-- the file) or 'poison' (now marked failed).
local now = clock_us(ARGV[4])
local cur = redis.call('HMGET', KEYS[1], 'status', 'gen', 'progress')
local gen = tonumber(ARGV[1])
local have = tonumber(cur[2] or '0')
if gen == 0 then gen = math.max(have, 1) end
if have > gen then return {'stale', have} end
if cur[1] == 'done' then return {'done', have} end
if cur[1] == 'failed' and have == gen then return {'failed', have} end
local runs = redis.call('HINCRBY', KEYS[1], 'runs', 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
if runs > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'gen', gen, 'status', 'failed', 'error', ARGV[5], 'updated_us', now)
  return {'poison', gen}
end
local progress = math.max(tonumber(cur[3] or '0'), 1)
redis.call('HSET', KEYS[1], 'gen', gen, 'status', 'processing', 'progress', progress,
  'error', '', 'updated_us', now)
return {'run', gen}
