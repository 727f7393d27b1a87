-- Performs a due draw (settle), closes the queue when closes_at has come, finishes closes
-- (drain_closed, no events), expires sessions, drops abandoned tickets (rules::abandon_cutoff:
-- an entrant's clock starts at the draw; lib.lua sweep_abandoned: a bounded walk, the whole
-- waiting set once per abandon_after_s), then admits (a ticket found unseen past the cutoff is
-- abandoned instead, and its token kept): the waiting skippers first (rules::
-- skip_admission_count: no tokens, only max_active), then the waiting drawn entrants, in
-- place order, then the line - from its head (fifo, passthrough) or by lottery (random: each
-- admission a uniformly random waiting ticket). MemoryStore::tick with each step bounded to
-- ARGV[2] tickets per call, so a huge queue never blocks Redis for long (the rest is done by the
-- next tick). The admission bound is rules::admission_count with `waiting` clamped to the
-- bound: tokens not used stay in the bucket. Nobody is admitted before the draw.
-- Also drops the used proof-of-work challenges past their expiry and turns the ended hashes.
-- Last, forgets a closed queue whose sessions are over (lib.lua forget_if_done).
-- ARGV: now, max tickets per step, a random seed (31 bits
-- from the process's CSPRNG: Redis' own math.random is deterministic per script).
-- ARGV[4], ARGV[5] (optional: the ticker's QueueStore::tick_leased): the calling node and its
-- tick lease in ms. Another node holding the queue's lease (K_TICK, PX) makes this
-- call do nothing; else the caller takes or renews it and ticks.
-- ARGV[6] (optional, ms): report an idle queue. An open queue where nobody waits (line,
-- skippers, drawn entrants, pre-queue) has nothing to do until its next session expiry or
-- schedule time unless someone acts (a join, a config change: events, which wake the ticker,
-- store/Ticker); the reply's idle ms say how long that is, at most ARGV[6].
-- Reply: {'ok', events made, 0, idle ms}, or {'ok', 0, ms left of the other node's lease}, or,
-- when this tick closed the queue (closes_at) or forgot it, {'ok', events made, 0, 0,
-- 'closed'|'forgot'}: the caller then updates the queue lists (another Cluster slot), so the
-- ticks that change nothing there cost no second command.
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if not queue_exists() then return {'queue_not_found'} end
local node, lease = ARGV[4] or '', tonumber(ARGV[5]) or 0
if node ~= '' and lease > 0 then
  local holder = redis.call('GET', K_TICK)
  if holder and holder ~= node then return {'ok', 0, redis.call('PTTL', K_TICK)} end
  redis.call('SET', K_TICK, node, 'PX', lease)
end
local seq_before = current_seq()
local cfg = load_cfg()
local d = settle(cfg, now)
local closed_now = false
if not queue_closed() and phase(cfg, d.state, now) == 'closed' then
  closed_now = close(now, limit)
end
drain_closed(limit, now)
local expired = redis.call('ZRANGEBYSCORE', K_ACTIVE, '-inf', I(now), 'LIMIT', 0, limit)
for _, id in ipairs(expired) do end_ticket(id, 'expired', now) end
pow_drop_expired(now)
ended_hash(now)  -- (the turn of the ended hashes, also when nothing ends: lib.lua tend)
d = load_draw()
-- rules::abandoned: last_seen + abandon_after_s * 1000 <= now
local cutoff = abandon_cutoff(cfg, d.state, d.drawn_at, now)
if cutoff then sweep_abandoned(cfg, d, cutoff, limit, now) end
local entrants = waiting_entrants(d)
local waiting = 0
local ph = phase(cfg, d.state, now)
-- The skippers' admission and the line's share the bound: at most `limit` admissions a call.
local skipped = admit_skippers(
  skip_admission_count(cfg, ph, redis.call('ZCARD', K_ACTIVE),
                       math.min(redis.call('ZCARD', K_SKIP), limit)), cfg, now, cutoff)
if ph == 'open' or ph == 'closed' then
  waiting = math.min(entrants + redis.call('ZCARD', K_WAIT), limit - skipped)
end
local n = admission_count(cfg, redis.call('ZCARD', K_ACTIVE), waiting, now)
local left = n
if left > 0 and entrants > 0 then
  left = left - admit_entrants(d, math.min(left, entrants), cfg, now, cutoff)
end
-- The line: at most 2n looked at (an unseen ticket met is abandoned, not admitted).
local looked = 0
if cfg.mode == 'random' then math.randomseed(tonumber(ARGV[3]) or 0) end
while left > 0 and looked < 2 * n do
  if cfg.mode == 'random' then
    local c = redis.call('ZCARD', K_WAIT)
    if c == 0 then break end
    local r = math.random(c) - 1
    local pick = redis.call('ZRANGE', K_WAIT, r, r, 'WITHSCORES')
    if admit(pick[1], cfg, now, tonumber(pick[2]), nil, nil, cutoff) then left = left - 1 end
    looked = looked + 1
  else
    local head = redis.call('ZRANGE', K_WAIT, 0, left - 1, 'WITHSCORES')
    if #head == 0 then break end
    for i = 1, #head, 2 do
      if admit(head[i], cfg, now, tonumber(head[i + 1]), nil, nil, cutoff) then left = left - 1 end
      looked = looked + 1
    end
  end
end
-- Tokens taken for tickets that were abandoned instead go back (as if the sweep had dropped
-- them before the count): the bucket stays exactly rules::admission_count's.
if left > 0 and cfg.mode ~= 'passthrough' then
  redis.call('HINCRBYFLOAT', K_META, 'tokens', left)
end
local made = current_seq() - seq_before
if forget_if_done(cfg, now) then return {'ok', made, 0, 0, 'forgot'} end
if closed_now then return {'ok', made, 0, 0, 'closed'} end
local idle_max = tonumber(ARGV[6]) or 0
if idle_max <= 0 or queue_closed() or made > 0 then return {'ok', made} end
if redis.call('ZCARD', K_WAIT) > 0 or redis.call('EXISTS', K_SKIP) == 1 or
    redis.call('EXISTS', K_PRE) == 1 or redis.call('EXISTS', K_CLOSING) == 1 or
    redis.call('EXISTS', K_CLOSING_PRE) == 1 or waiting_entrants(load_draw()) > 0 then
  return {'ok', made, 0, 0}
end
local until_ms = now + idle_max
local first = redis.call('ZRANGE', K_ACTIVE, 0, 0, 'WITHSCORES')
if first[2] then until_ms = math.min(until_ms, tonumber(first[2])) end
for _, at in ipairs({cfg.prequeue_at, cfg.opens_at, cfg.closes_at}) do
  if at and at * 1000 > now then until_ms = math.min(until_ms, at * 1000) end
end
return {'ok', made, 0, math.max(0, until_ms - now)}
