-- Add many increments to one hash or sorted set in one call (inside the rollup's MULTI/EXEC).
-- KEYS[1]  the HASH (modes "int", "float") or ZSET (mode "zset")
-- ARGV[1]  "int" (HINCRBY), "float" (HINCRBYFLOAT) or "zset" (ZINCRBY)
-- ARGV[2..] field (or member), increment pairs
-- Returns  the number of fields incremented.
-- Why: a batch touches thousands of (key, field) pairs (one per user per day, per query, per
-- latency bin); one command per key instead of one per field keeps the transaction cheap.
local mode = ARGV[1]
local n = 0
if mode == 'zset' then
  for i = 2, #ARGV, 2 do
    redis.call('ZINCRBY', KEYS[1], ARGV[i + 1], ARGV[i])
    n = n + 1
  end
  return n
end
local cmd = mode == 'float' and 'HINCRBYFLOAT' or 'HINCRBY'
for i = 2, #ARGV, 2 do
  redis.call(cmd, KEYS[1], ARGV[i], ARGV[i + 1])
  n = n + 1
end
return n
