-- Marks waiting tickets as seen now; unknown, active and ended ids are ignored (XX).
-- ARGV: now, ticket ids... A due draw happens first.
local now = ARGV[1]
if not queue_exists() then return {'queue_not_found'} end
settle_now(tonumber(now))
local batch = {}
for i = 2, #ARGV do
  batch[#batch + 1] = now
  batch[#batch + 1] = ARGV[i]
  -- unpack() is bounded by the Lua C stack: send at most 500 members per ZADD.
  if #batch >= 1000 or i == #ARGV then
    redis.call('ZADD', K_SEEN, 'XX', 'GT', unpack(batch))
    batch = {}
  end
end
return {'ok'}
