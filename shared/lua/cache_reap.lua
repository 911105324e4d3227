-- Reclaim a user's answers written under an older generation (after a generation bump).
-- KEYS[1]     the user's generation key (P cache:gen:{u:<id>})
-- KEYS[2..n]  candidate entry keys of the same user (same hash tag, so the same slot)
-- ARGV        none
-- returns     the number of entries unlinked
-- Entries start with a clear-text header `C<gen>:`; one that cannot be read is unlinked too.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local unlinked = 0
for i = 2, #KEYS do
  local head = redis.call('GETRANGE', KEYS[i], 0, 23)
  if head ~= '' then
    local gen = tonumber(string.match(head, '^C(%d+):'))
    if gen == nil or gen < current then
      unlinked = unlinked + redis.call('UNLINK', KEYS[i])
    end
  end
end
return unlinked
