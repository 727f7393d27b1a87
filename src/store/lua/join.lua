-- Joins the line at the back, or returns the live ticket of a known dedupe key.
-- ARGV: now, new ticket id, dedupe key (may be empty).
-- Reply: {'ok', view, created (1/0)}.
local now, id, dkey = tonumber(ARGV[1]), ARGV[2], ARGV[3]
if not queue_exists() then return {'queue_not_found'} end
if redis.call('HGET', K_META, 'closed') == '1' then return {'queue_closed'} end
if dkey ~= '' then
  local old = redis.call('HGET', K_DEDUPE, dkey)
  if old then
    local state = ticket_state(old)
    if state == 'waiting' or state == 'active' then return {'ok', view(old), 0} end
    redis.call('HDEL', K_DEDUPE, dkey)  -- its ticket ended (closed, not yet drained)
  end
end
if redis.call('EXISTS', tkey(id)) == 1 then return {'id_collision'} end
local order = redis.call('HINCRBY', K_META, 'orders', 1)
redis.call('HSET', tkey(id), 'state', 'waiting', 'reason', 'none', 'order', I(order),
           'joined', I(now), 'admitted', '0', 'expires', '0', 'key', dkey,
           'ep', I(current_epoch()))
if dkey ~= '' then redis.call('HSET', K_DEDUPE, dkey, id) end
local nobody_waits = redis.call('ZCARD', K_WAIT) == 0
redis.call('ZADD', K_WAIT, I(order), id)
redis.call('ZADD', K_SEEN, I(now), id)
emit('joined', id, order, now, 0)
if nobody_waits then
  local cfg = load_cfg()
  if admission_count(cfg, redis.call('ZCARD', K_ACTIVE), 1, now) == 1 then
    admit(id, cfg, now)
  end
end
return {'ok', view(id), 1}
