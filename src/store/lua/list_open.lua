-- Upgrade step, idempotent: queues made before aq:queues:open existed are not in it until their
-- next PUT, so --max-queues would not count them. RedisStore runs this for every queue once per
-- process, before its first put_queue. Atomic with close_queue (which removes the name), so a
-- queue closed meanwhile is never listed as open. KEYS[22], KEYS[23]: the queue lists.
if queue_exists() and redis.call('HGET', K_META, 'closed') ~= '1' then
  redis.call('SADD', K_OPEN, QUEUE)
end
return {'ok'}
