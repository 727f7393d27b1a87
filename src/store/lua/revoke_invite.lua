-- Revokes an invite code: no further joins with it; the tickets it made stay. Revoking again
-- changes nothing. ARGV: code. Reply: {'ok', record} or {'invite_not_found'}, {'queue_not_found'}.
if not queue_exists() then return {'queue_not_found'} end
local code = ARGV[1]
local inv = parse_invite(redis.call('HGET', K_INV, code))
if not inv then return {'invite_not_found'} end
if not inv.revoked then
  inv.revoked = true
  redis.call('HSET', K_INV, code, encode_invite(inv))
end
return {'ok', encode_invite(inv)}
