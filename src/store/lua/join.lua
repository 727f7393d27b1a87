-- Joins the line at the back, or returns the live ticket of a known dedupe key; for a batch of
-- joins at once (RedisStore batches the joins of one queue that wait while one is in flight).
-- ARGV: one triple per join, in order: now, new ticket id (128 random bits: never taken),
-- dedupe key (may be empty). A single join is a batch of one.
-- Reply: one reply per join, in ARGV order: {'ok', view, created (1/0)} or {'<errc>'}.
-- Each join of a batch is exactly the join it would be as its own script run right after the
-- previous one (own seq, own dedupe lookup: a later join of the batch sees an earlier one's key).
-- The hot path of a flash sale: one HMGET reads everything it needs of the queue, and the
-- reply of a new waiting ticket is built from what the script just wrote (its position is the
-- line's length: it has the newest order) instead of being read back.
local m = redis.call('HMGET', K_META, 'closed', 'epoch')  -- no join changes either
local function join(now, id, dkey)
  if not m[1] then return {'queue_not_found'} end
  if m[1] == '1' then return {'queue_closed'} end
  if dkey ~= '' then
    local old = redis.call('HGET', K_DEDUPE, dkey)
    if old then
      local state = ticket_state(old)
      if state == 'waiting' or state == 'active' then return {'ok', view(old), 0} end
      redis.call('HDEL', K_DEDUPE, dkey)  -- its ticket ended (closed, not yet drained)
    end
  end
  local order = redis.call('HINCRBY', K_META, 'orders', 1)
  redis.call('HSET', tkey(id), 'state', 'waiting', 'reason', 'none', 'order', I(order),
             'joined', I(now), 'admitted', '0', 'expires', '0', 'key', dkey,
             'ep', m[2] or '0')
  if dkey ~= '' then redis.call('HSET', K_DEDUPE, dkey, id) end
  redis.call('ZADD', K_WAIT, I(order), id)
  local waiting = redis.call('ZCARD', K_WAIT)
  redis.call('ZADD', K_SEEN, I(now), id)
  local seq = emit('joined', id, order, now, 0)
  if waiting == 1 then
    local cfg = load_cfg()
    if admission_count(cfg, redis.call('ZCARD', K_ACTIVE), 1, now) == 1 then
      admit(id, cfg, now)
      return {'ok', view(id), 1}
    end
  end
  return {'ok', {id, 'waiting', 'none', I(order), I(now), '0', '0', I(waiting), I(seq)}, 1}
end
local replies = {}
for i = 1, #ARGV - 2, 3 do
  replies[#replies + 1] = join(tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2])
end
return replies
