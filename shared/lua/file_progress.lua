-- Move a file's status forward; never backwards, so a redelivered or older run cannot undo.
--
-- KEYS[1]  the file's status hash (keys.file_status)
-- ARGV[1]  gen: the claim generation of the writing run
-- ARGV[2]  status: 'processing' | 'done' | 'failed'
-- ARGV[3]  progress: 0-100, in percent
-- ARGV[4]  error: the failure reason, or ''
-- ARGV[5]  chunks: the chunk count, or ''
-- ARGV[6]  ttl_s: lifetime of the status hash, in seconds
-- ARGV[7]  now_us: current time in microseconds, or 0 to use the server's TIME
--
-- Rules: a newer generation owns the key; 'done' is final; 'failed' gives way only to 'done';
-- progress is the maximum of the stored and the new value.
-- Returns 1 when the hash changed, 0 when the update was refused.
local now = clock_us(ARGV[7])
local cur = redis.call('HMGET', KEYS[1], 'gen', 'status', 'progress')
local gen = tonumber(ARGV[1])
if tonumber(cur[1] or '0') > gen then return 0 end
local status = cur[2]
local new = ARGV[2]
if status == 'done' then return 0 end
if status == 'failed' and new ~= 'done' then return 0 end
local progress = math.max(tonumber(cur[3] or '0'), tonumber(ARGV[3]))
if new == 'done' then progress = 100 end
redis.call('HSET', KEYS[1], 'gen', gen, 'status', new, 'progress', progress,
  'error', ARGV[4], 'chunks', ARGV[5], 'updated_us', now)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
