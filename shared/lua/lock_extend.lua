-- Extend a run-lock only if this caller still owns it.
-- KEYS[1]  the lock key
-- ARGV[1]  the owner's token
-- ARGV[2]  the new time to live, in milliseconds
-- returns  1 when extended, 0 when the lock is lost
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
