-- Remove the members of a tag set whose entries no longer exist (expired or unlinked).
-- Atomic, so an entry re-stored meanwhile cannot lose its tag membership. Standalone only:
-- on a cluster the members live in other slots, and the set's own TTL (which never
-- shortens) reclaims it instead.
-- KEYS[1]     the tag set (P cache:tag:<tag>)
-- KEYS[2..n]  candidate members (entry keys)
-- ARGV        none
-- returns     the number of members removed
local removed = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    removed = removed + redis.call('SREM', KEYS[1], KEYS[i])
  end
end
return removed
