-- Mints invite codes (SPEC §8): one record per code in K_INV, the code in K_INVS (paging).
-- ARGV: max codes a queue holds (rules::kMaxInvitesPerQueue), then the record every code gets
-- (redis/keys.hpp invites: "uses 0 expires_ms skip 0 created_ms label"), then the codes (made in
-- C++ by new_invite_code; at most rules::kMaxInviteMint).
-- Reply: {'ok'}, {'too_many_invites'}, {'collision'} (a code exists already: 80 random bits,
-- so practically never; nothing was written and the caller mints new codes) or
-- {'queue_not_found'}.
if not queue_exists() then return {'queue_not_found'} end
local max, rec = tonumber(ARGV[1]), ARGV[2]
local n = #ARGV - 2
if redis.call('ZCARD', K_INVS) + n > max then return {'too_many_invites'} end
for i = 3, #ARGV do
  if redis.call('HEXISTS', K_INV, ARGV[i]) == 1 then return {'collision'} end
end
-- unpack() is bounded by the Lua C stack: at most 500 codes per HSET / ZADD.
local h, z = {}, {}
for i = 3, #ARGV do
  h[#h + 1] = ARGV[i]
  h[#h + 1] = rec
  z[#z + 1] = '0'
  z[#z + 1] = ARGV[i]
  if #h >= 1000 or i == #ARGV then
    redis.call('HSET', K_INV, unpack(h))
    redis.call('ZADD', K_INVS, unpack(z))
    h, z = {}, {}
  end
end
return {'ok'}
