-- All guards of one request, atomically: an optional session check, then every GCRA rate
-- policy, all-or-nothing (a rejection by any enforced policy charges none), and an optional
-- token reservation record that guard_settle.lua later consumes.
--
-- KEYS[1..n]   the policy keys (string: theoretical arrival time, integer microseconds)
-- KEYS[n+1]    the session zset, present only when ARGV[3] ~= ''
-- KEYS[#KEYS]  the reservation record, present only when ARGV[4] > 0
-- ARGV[1]      now in integer microseconds, or '' for the server clock (TIME)
-- ARGV[2]      n, the number of policies
-- ARGV[3]      session id to check (member of the session zset), or ''
-- ARGV[4]      reservation record TTL in milliseconds, 0 for no record
-- ARGV[5+4(i-1) ..] per policy i: emission interval T (us, integer > 0), limit L (burst, units),
--              cost (units, integer >= 0; 0 is a free peek: decided and reported, its key is
--              never written), shadow flag ('1' = decide and report, never block)
-- returns      {allowed 0|1, session 1 live | 0 lost | -1 not checked,
--               then per policy i: passes 0|1, remaining units, reset us, retry_after us}
--              reset = time until the bucket is full again; retry_after = 0 when the policy
--              passes, -1 when the cost exceeds L (never admissible).
-- A policy passes cost c at now when max(tat, now) + c*T - now <= L*T. The state is one integer
-- per policy that expires at the TAT itself (PXAT, Redis >= 6.2): once the bucket is full again
-- the key means nothing. An absolute expiry also keeps explicit-`now` test clocks exact when
-- they run in the future.
local now = clock_us(ARGV[1])
local n = tonumber(ARGV[2])
local res_ttl_ms = tonumber(ARGV[4])

local session = -1
if ARGV[3] ~= '' then
  local deadline = redis.call('ZSCORE', KEYS[n + 1], ARGV[3])
  if deadline and tonumber(deadline) > now then session = 1 else session = 0 end
end

local allowed = session ~= 0
-- st holds, per policy, 4 slots: T, tat, new tat, retry (one table: this runs on every request)
local st = {}
for i = 1, n do
  local a = 1 + 4 * i
  local t = tonumber(ARGV[a])
  local limit = tonumber(ARGV[a + 1])
  local cost = tonumber(ARGV[a + 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + cost * t
  local retry = 0
  if cost > limit then
    retry = -1
  elseif new_tat - now > limit * t then
    retry = new_tat - now - limit * t
  end
  if retry ~= 0 and ARGV[a + 3] ~= '1' then allowed = false end
  local b = 4 * (i - 1)
  st[b + 1], st[b + 2], st[b + 3], st[b + 4] = t, tat, new_tat, retry
end

local out = {allowed and 1 or 0, session}
local charged = res_ttl_ms > 0 and {} or nil  -- only a reservation needs it
for i = 1, n do
  local b = 4 * (i - 1)
  local t, tat, new_tat, retry = st[b + 1], st[b + 2], st[b + 3], st[b + 4]
  local c = 0
  if allowed and retry == 0 and new_tat > tat then
    c = (new_tat - tat) / t
    tat = new_tat
    -- numbers reach Redis as %.17g text: exact for these integers (< 2^53)
    redis.call('SET', KEYS[i], tat, 'PXAT', math.ceil(tat / 1000))
  end
  if charged then charged[i] = c end
  local remaining = math.floor((tonumber(ARGV[2 + 4 * i]) * t - (tat - now)) / t)
  if remaining < 0 then remaining = 0 end
  out[3 + b] = retry == 0 and 1 or 0
  out[4 + b] = remaining
  out[5 + b] = tat - now
  out[6 + b] = retry
end

if allowed and res_ttl_ms > 0 then
  redis.call('SET', KEYS[#KEYS], table.concat(charged, ' '), 'PX', ARGV[4])
end
return out
