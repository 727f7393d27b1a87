-- Finishes closes (drain_closed, no events), expires sessions, drops abandoned tickets, then
-- admits from the head: MemoryStore::tick with
-- each step bounded to ARGV[2] tickets per call, so a huge queue never blocks Redis for long
-- (the rest is done by the next tick). The admission bound is rules::admission_count with
-- `waiting` clamped to the bound: tokens not used stay in the bucket.
-- Last, forgets a closed queue whose sessions are over (lib.lua forget_if_done).
-- KEYS[10], KEYS[11]: the queue lists. ARGV: now, max tickets per step. Reply: {'ok', events made}.
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if not queue_exists() then return {'queue_not_found'} end
local seq_before = current_seq()
local cfg = load_cfg()
drain_closed(limit, now)
local expired = redis.call('ZRANGEBYSCORE', K_ACTIVE, '-inf', I(now), 'LIMIT', 0, limit)
for _, id in ipairs(expired) do end_ticket(id, 'expired', now) end
-- rules::abandoned: last_seen + abandon_after_s * 1000 <= now
local cutoff = now - cfg.abandon * 1000
local unseen = redis.call('ZRANGEBYSCORE', K_SEEN, '-inf', I(cutoff), 'LIMIT', 0, limit)
for _, id in ipairs(unseen) do end_ticket(id, 'abandoned', now) end
local waiting = math.min(redis.call('ZCARD', K_WAIT), limit)
local n = admission_count(cfg, redis.call('ZCARD', K_ACTIVE), waiting, now)
if n > 0 then
  for _, id in ipairs(redis.call('ZRANGE', K_WAIT, 0, n - 1)) do admit(id, cfg, now) end
end
local made = current_seq() - seq_before
forget_if_done(cfg, now)
return {'ok', made}
