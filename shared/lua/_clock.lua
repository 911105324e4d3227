-- Prelude: shared/lua.py puts this in front of every script (Redis Lua has no includes).
-- clock_us(arg)  arg as integer microseconds when the caller gave one (tests pass an explicit
--                now); absent, '' or '0' means the server clock, TIME, in integer microseconds.
local function clock_us(arg)
  if arg ~= nil and arg ~= '' and arg ~= '0' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

