-- Marks waiting tickets as seen now (last seen, in each one's record, never moves backwards);
-- unknown, active and ended ids are ignored. ARGV: now, ticket ids... A due draw happens first.
local now = tonumber(ARGV[1])
if not queue_exists() then return {'queue_not_found'} end
settle_now(now)
-- unpack() is bounded by the Lua C stack: at most 500 ids per HMGET and HSET.
for first = 2, #ARGV, 500 do
  local ids = {unpack(ARGV, first, math.min(first + 499, #ARGV))}
  local recs = redis.call('HMGET', K_LIVE, unpack(ids))
  local batch = {}
  for i, id in ipairs(ids) do
    local t = recs[i] and decode(recs[i]) or tlive(id)  -- (tlive: a ticket of the layout before)
    if t and t.state == 'waiting' then
      if now > t.seen then
        t.seen = now
        batch[#batch + 1] = id
        batch[#batch + 1] = encode(t)
      end
    end
  end
  if #batch > 0 then redis.call('HSET', K_LIVE, unpack(batch)) end
end
return {'ok'}
