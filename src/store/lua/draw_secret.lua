-- The current epoch's draw seed and commitment, for the process to key its pre-queue joins
-- (never shown by the API before the draw): {'ok', commitment, seed} ('' '' when the epoch has
-- no draw). ARGV: none.
if not queue_exists() then return {'queue_not_found'} end
local d = redis.call('HMGET', K_DRAW, 'commit', 'seed')
return {'ok', d[1] or '', d[2] or ''}
