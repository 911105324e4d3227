-- Release a run-lock only if this caller still owns it.
-- KEYS[1]  the lock key
-- ARGV[1]  the owner's token
-- returns  1 when released, 0 when the lock had expired or belongs to another owner
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
