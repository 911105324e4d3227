-- Bump a user's cache generation: every answer stored under an older generation becomes
-- unreachable at once (O(1), whatever the user's key count).
-- KEYS[1]  the user's generation key (P cache:gen:{u:<id>})
-- ARGV[1]  minimum time to live of the generation, in milliseconds (longer than any entry)
-- returns  the new generation (integer)
local gen = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
-- Never shorten: an older entry may still live until the current expiry.
if ttl < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return gen
