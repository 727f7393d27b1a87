-- Creates the queue (bucket full: one second's worth, see rules::full_bucket) or updates its
-- config; reopens a closed queue. Returns {'ok', info, 1 if this call created the queue else 0},
-- or {'conflict'} if the queue changed since the caller read it (the caller merged and checked
-- the schedule in C++ against that read: rules::validate_schedule, check_schedule_change; it
-- reads again and retries).
-- ARGV: now, name, max_queues (unused: the caller reserved the place, see below), six defaults
-- (admit_per_s max_active session_ttl_s abandon_after_s paused target_url), the version read
-- (get_queue.lua's `version`, 'new' if there was no queue), the schedule flag (1: the patch
-- sets prequeue_at or opens_at), a fresh seed and its commitment (hex), then patch field/value
-- pairs. max_queues counts open queues only: creating one, or reopening a closed one, needs a
-- free place; changing an open one does not. The place is taken before this script, by
-- reserve_queue.lua on aq:queues:open alone (another Cluster slot: this script touches only the
-- queue's); the version compare-and-set makes this script refuse ('conflict') if the queue is
-- no longer as read, so it never opens a queue the caller did not reserve for.
-- The seed is stored only when the epoch has no draw yet and the merged config has opens_at:
-- one seed per epoch, never replaced; a reopen starts a new epoch (and a new draw).
local now, name = tonumber(ARGV[1]), ARGV[2]
local expected, sched, seed, commit = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local created = not queue_exists()
if created then
  if expected ~= 'new' then return {'conflict'} end
else
  if not queue_closed() then settle(load_cfg(), now) end
  if version() ~= expected then return {'conflict'} end
  -- A schedule set on a line that is not empty (rules::check_schedule_change), made meanwhile.
  if sched == '1' and load_draw().state == 'none' and not queue_closed() and
      redis.call('ZCARD', K_WAIT) > 0 then
    return {'conflict'}
  end
end
local opening = created or queue_closed()
if created then
  -- A queue made again after it was forgotten continues its seq above the old one's (and keeps
  -- its outbox, whose last events may still be on their way).
  local seq = redis.call('GET', K_LAST_SEQ) or '0'
  redis.call('DEL', K_LAST_SEQ)
  redis.call('PERSIST', K_OUTBOX)
  -- (And its ended tickets stay readable, its used challenges used: see forget_if_done.)
  redis.call('PERSIST', K_ENDED0)
  redis.call('PERSIST', K_ENDED1)
  redis.call('PERSIST', K_POW)
  redis.call('HSET', K_META, 'seq', seq, 'orders', '0', 'closed', '0', 'epoch', '0',
             'tokens', '0', 'last_ms', I(now), 'admitted_total', '0', 'abandoned_total', '0',
             'expired_total', '0', 'completed_total', '0', 'left_total', '0', 'joined_total', '0',
             'cfgv', '0')
  redis.call('HSET', K_CFG, 'admit_per_s', ARGV[4], 'max_active', ARGV[5],
             'session_ttl_s', ARGV[6], 'abandon_after_s', ARGV[7], 'paused', ARGV[8],
             'target_url', ARGV[9], 'prequeue_at', '', 'opens_at', '', 'closes_at', '',
             'mode', 'fifo', 'message', '')
elseif opening then
  -- A reopen: the closed epoch's draw goes. Its `pre` is set aside for the drain if the close
  -- had not finished walking it (RENAME: O(1); a union only if one is still set aside: rare).
  local cursor = redis.call('HGET', K_DRAW, 'cdrain')
  if redis.call('EXISTS', K_PRE) == 1 then
    if cursor and cursor ~= 'done' then
      set_aside(K_PRE, K_CLOSING_PRE)
    else
      redis.call('UNLINK', K_PRE)
    end
  end
  redis.call('UNLINK', K_PGONE, K_DRAW)
end
for i = 14, #ARGV, 2 do redis.call('HSET', K_CFG, ARGV[i], ARGV[i + 1]) end
if created then
  local rate = tonumber(redis.call('HGET', K_CFG, 'admit_per_s'))
  redis.call('HSET', K_META, 'tokens', F(rate <= 0 and 0 or math.max(1.0, rate)))
end
if redis.call('HGET', K_CFG, 'opens_at') ~= '' and redis.call('EXISTS', K_DRAW) == 0 then
  redis.call('HSET', K_DRAW, 'state', 'prequeue', 'seed', seed, 'commit', commit)
end
redis.call('HSET', K_META, 'closed', '0')
redis.call('HINCRBY', K_META, 'cfgv', 1)
emit('config_changed', '', 0, now, 0)
settle(load_cfg(), now)  -- an opens_at already past draws at once (as MemoryStore)
return {'ok', info(), created and 1 or 0}
