-- Ends every waiting ticket (reason closed) and emits one `closed` event. ARGV: now, batch.
-- KEYS[10] = aq:queues, KEYS[11] = aq:queues:open: a closed queue stops counting toward
-- max_queues (put_queue.lua). The tick forgets it once its sessions are over (forget_if_done).
-- O(1) whatever the length of the line: the line is moved aside (RENAME) and the epoch bumped,
-- which ends every ticket in it at once for all readers (lib.lua, effective). The per-ticket
-- bookkeeping is drained `batch` at a time, here and by every tick.
local now, batch = tonumber(ARGV[1]), tonumber(ARGV[2])
if not queue_exists() then return {'queue_not_found'} end
if redis.call('HGET', K_META, 'closed') ~= '1' then
  redis.call('HSET', K_META, 'closed', '1', 'closed_ms', I(now))
  redis.call('SREM', K_OPEN, QUEUE)
  redis.call('HINCRBY', K_META, 'epoch', 1)
  if redis.call('EXISTS', K_WAIT) == 1 then
    if redis.call('EXISTS', K_CLOSING) == 0 then
      redis.call('RENAME', K_WAIT, K_CLOSING)
    else
      -- Closed again before the previous close was drained (close, reopen, close): O(n), rare.
      redis.call('ZUNIONSTORE', K_CLOSING, 2, K_CLOSING, K_WAIT)
      redis.call('UNLINK', K_WAIT)
    end
  end
  redis.call('UNLINK', K_SEEN)  -- only waiting tickets are in it; freed in the background
  emit('closed', '', 0, now, 0)
end
drain_closed(batch, now)
return {'ok', info()}
