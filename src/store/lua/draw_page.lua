-- One chunk of the draw's published order (GET .../draw): {'ok', state, commitment, seed (drawn
-- only, else ''), entrants, base, drawn_at, ticket ids of places after+1 .. after+count (drawn
-- only)...}, or {'no_draw'} if this epoch never had opens_at. ARGV: after (>= 0), count (the
-- caller keeps it <= 1000: one ZRANGE of that many is under a millisecond at 1M entrants).
-- Ticket ids never leave the store: RedisStore turns them into entry ids.
if not queue_exists() then return {'queue_not_found'} end
local after, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local d = redis.call('HMGET', K_DRAW, 'state', 'commit', 'seed', 'n', 'base', 'drawn_at')
if not d[1] then return {'no_draw'} end
local out = {'ok', d[1], d[2] or '', '', d[4] or '0', d[5] or '0', d[6] or '0'}
if d[1] == 'prequeue' then out[5] = I(redis.call('ZCARD', K_PRE)) end
if d[1] == 'drawn' then
  out[4] = d[3] or ''
  if count > 0 then
    for _, m in ipairs(redis.call('ZRANGE', K_PRE, after, after + count - 1)) do
      out[#out + 1] = string.sub(m, 33)
    end
  end
end
return out
