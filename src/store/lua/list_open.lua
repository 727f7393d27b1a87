-- The queue's state for the registry reconcile (RedisStore::reconcile_registry, once per
-- process before its first put_queue): {'ok', 'open'|'closed'|'absent'}. Touches only the
-- queue's slot; the store fixes aq:queues and aq:queues:open with single-key commands.
if not queue_exists() then return {'ok', 'absent'} end
if redis.call('HGET', K_META, 'closed') == '1' then return {'ok', 'closed'} end
return {'ok', 'open'}
