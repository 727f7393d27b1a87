-- Creates the queue (bucket full: one second's worth, see rules::full_bucket) or updates its
-- config; reopens a closed queue. Returns {'ok', info, 1 if this call created the queue else 0}.
-- KEYS[10] = aq:queues, KEYS[11] = aq:queues:open. ARGV: now, name, max_queues, six defaults
-- (admit_per_s max_active session_ttl_s abandon_after_s paused target_url), then patch
-- field/value pairs. max_queues counts open queues only: creating one, or reopening a closed
-- one, needs a free place; changing an open one does not.
local now, name, max_queues = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local created = not queue_exists()
local opening = created or redis.call('HGET', K_META, 'closed') == '1'
if opening and redis.call('SISMEMBER', K_OPEN, name) == 0 and
    redis.call('SCARD', K_OPEN) >= max_queues then
  return {'too_many_queues'}
end
if created then
  -- A queue made again after it was forgotten continues its seq above the old one's (and keeps
  -- its outbox, whose last events may still be on their way).
  local seq = redis.call('GET', K_LAST_SEQ) or '0'
  redis.call('DEL', K_LAST_SEQ)
  redis.call('PERSIST', K_OUTBOX)
  redis.call('HSET', K_META, 'seq', seq, 'orders', '0', 'closed', '0', 'epoch', '0',
             'tokens', '0', 'last_ms', I(now), 'admitted_total', '0', 'abandoned_total', '0',
             'expired_total', '0', 'completed_total', '0', 'left_total', '0')
  redis.call('HSET', K_CFG, 'admit_per_s', ARGV[4], 'max_active', ARGV[5],
             'session_ttl_s', ARGV[6], 'abandon_after_s', ARGV[7], 'paused', ARGV[8],
             'target_url', ARGV[9])
  redis.call('SADD', K_QUEUES, name)
end
for i = 10, #ARGV, 2 do redis.call('HSET', K_CFG, ARGV[i], ARGV[i + 1]) end
if created then
  local rate = tonumber(redis.call('HGET', K_CFG, 'admit_per_s'))
  redis.call('HSET', K_META, 'tokens', F(rate <= 0 and 0 or math.max(1.0, rate)))
end
redis.call('HSET', K_META, 'closed', '0')
redis.call('SADD', K_OPEN, name)
emit('config_changed', '', 0, now, 0)
return {'ok', info(), created and 1 or 0}
