-- Queue info and every waiting join order (ascending) at one seq. ARGV: none.
-- Read in chunks so a long line does not build one giant intermediate Lua table.
if not queue_exists() then return {'queue_not_found'} end
local orders = {}
local total = redis.call('ZCARD', K_WAIT)
local chunk = 10000
for start = 0, total - 1, chunk do
  local r = redis.call('ZRANGE', K_WAIT, start, start + chunk - 1, 'WITHSCORES')
  for i = 2, #r, 2 do orders[#orders + 1] = tonumber(r[i]) end
end
return {'ok', info(), orders}
