-- Claim processing of an uploaded file (web, POST /files): one round trip decides whether to enqueue.
--
-- KEYS[1]  the file's status hash (keys.file_status)
-- ARGV[1]  ttl_s: lifetime of the status hash, in seconds
-- ARGV[2]  stale_us: a queued/processing status untouched this long may be claimed again (its
--          message was lost), in microseconds
-- ARGV[3]  now_us: current time in microseconds, or 0 to use the server's TIME
-- ARGV[4]  filename (for display only)
-- ARGV[5]  size_bytes
--
-- Returns {outcome, gen, previous}: outcome 'claimed' (the caller enqueues files.process with gen)
-- or the live status 'queued' | 'processing' | 'done' (nothing to do); previous is the status
-- before the call, or '' when the hash did not exist (the caller then asks SQL).
local now = clock_us(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'status', 'updated_us', 'gen')
local status = cur[1] or ''
local gen = tonumber(cur[3] or '0')
if status == 'done' then
  return {'done', gen, status}
end
if (status == 'queued' or status == 'processing')
    and now - tonumber(cur[2] or '0') < tonumber(ARGV[2]) then
  return {status, gen, status}
end
gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'status', 'queued', 'progress', 0, 'error', '', 'chunks', '',
  'runs', 0, 'updated_us', now, 'filename', ARGV[4], 'size_bytes', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return {'claimed', gen, status}
