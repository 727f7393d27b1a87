-- Joins (the line, or the pre-queue before opens_at), or returns the live ticket of a known dedupe
-- key; for a batch of joins at once (RedisStore batches the joins of one queue that wait while
-- one is in flight).
-- ARGV[1]: the draw commitment the process keyed its entrants with ('' = none known); then six
-- arguments per join, in order: now, new ticket id (128 random bits: never taken), dedupe key
-- (may be empty), draw key (32 bytes: draw::key(seed, draw::entry_id(id)), or '' if not keyed),
-- invite code ('' = none), proof of work ('' = none: verdict none, no extra bits; else
-- "verdict extra_bits bits id expires_ms", verdict a PowVerdict name). A join with neither costs
-- two empty strings. A single join is a batch of one.
-- Reply: one reply per join, in ARGV order: {'ok', view, created (1/0)}, {'refused', rule,
-- prequeue_at, opens_at, closes_at, message} (rules::join_refusal builds the error), {'need_key',
-- commitment} (a pre-queue join not keyed with this epoch's seed: nothing was written; the
-- process fetches the seed and sends it again), {'invite', errc, record or ''} (rules::
-- invite_refusal of the record builds the error), {'invite_required'}, {'pow', errc, required
-- bits} (rules::pow_refusal, or pow_used) or {'<errc>'}.
-- SPEC §8, after the dedupe lookup and the join rule: the invite, then the proof of work, then
-- the single use of the challenge (its mark in K_POW), then the join with the invite's use.
-- Nothing is written before the last check passed. A skip invite makes a skipper: order
-- SKIP_ORDER + n in K_SKIP (also in the pre-queue, where it is no entrant), admitted at once if
-- it is the only waiting skipper and skip_admission_count allows one.
-- Each join of a batch is exactly the join it would be as its own script run right after the
-- previous one (own seq, own dedupe lookup: a later join of the batch sees an earlier one's key).
-- The hot path of a flash sale: one HMGET reads everything it needs of the queue, and the
-- reply of a new waiting ticket is built from what the script just wrote (its position is the
-- number waiting: skippers, drawn entrants and the line, as it has the newest order) instead of
-- being read back. A join with no invite and no proof reads neither (two string compares).
local m = redis.call('HMGET', K_META, 'closed', 'epoch', 'sorders')  -- (closed, epoch: no join
-- changes them). No `sorders` yet: this queue never had a skipper, so the line's joins need not
-- count the skip set (one Redis call less a join).
local skips_ever = m[3] and true or false
local ep = tonumber(m[2]) or 0
local commit = ARGV[1]
local cfg = m[1] and load_cfg()
local function refused(rule)
  local c = redis.call('HMGET', K_CFG, 'prequeue_at', 'opens_at', 'closes_at', 'message')
  return {'refused', rule, c[1] or '', c[2] or '', c[3] or '', c[4] or ''}
end
local function join(now, id, dkey, dk, code, proof)
  if not m[1] then return {'queue_not_found'} end
  if m[1] == '1' then return refused('refuse_closed') end
  local d = settle(cfg, now)
  if dkey ~= '' then
    local old = redis.call('HGET', K_DEDUPE, dkey)
    if old then
      local state = ticket_state(old)
      if state == 'waiting' or state == 'active' then return {'ok', view(old), 0} end
      redis.call('HDEL', K_DEDUPE, dkey)  -- its ticket ended (closed, not yet drained)
    end
  end
  local ph = phase(cfg, d.state, now)
  local rule = join_rule(ph, cfg.mode)
  if rule ~= 'enter_prequeue' and rule ~= 'join_line' then return refused(rule) end
  local inv
  if code ~= '' then
    local rec = redis.call('HGET', K_INV, code)
    inv = parse_invite(rec)
    local why = invite_refusal(inv, now)
    if why then return {'invite', why, rec or ''} end
  elseif cfg.invite_only then
    return {'invite_required'}
  end
  local mark
  if cfg.pow.bits > 0 then
    local verdict, extra, bits, pid, pexp = 'none', 0, 0, '', 0
    if proof ~= '' then
      local v, e, b, i, x = string.match(proof, '^(%l[%l_]*) (%d+) (%d+) (%S*) (%d+)$')
      if v then verdict, extra, bits, pid, pexp = v, tonumber(e), tonumber(b), i, x end
    end
    local required = pow_required_bits(cfg.pow, extra)
    local why = pow_refusal(required, verdict, bits)
    if why then return {'pow', why, I(required)} end
    if required > 0 then
      mark = {pid, pexp, required}
      if pow_used(pid) then return {'pow', 'pow_used', I(required)} end
    end
  end
  local skip = inv and inv.skip
  if rule == 'enter_prequeue' and not skip and
      (d.state ~= 'prequeue' or #dk ~= 32 or commit ~= d.commit) then
    return {'need_key', d.commit}
  end
  -- Every check passed: from here on the join happens. Take the challenge and the invite's use.
  if mark then pow_take(mark[1], mark[2]) end
  if inv then
    inv.used = inv.used + 1
    redis.call('HSET', K_INV, code, encode_invite(inv))
  end
  if skip then
    local n = redis.call('HINCRBY', K_META, 'sorders', 1)
    skips_ever = true
    local order = SKIP_ORDER + n
    tput(id, {state = 'waiting', order = order, joined = now, ep = ep, seen = now, key = dkey,
              dk = ''})
    if dkey ~= '' then redis.call('HSET', K_DEDUPE, dkey, id) end
    redis.call('ZADD', K_SKIP, I(n), id)
    local seq = emit('joined', id, order, now, 0)
    local skippers = redis.call('ZCARD', K_SKIP)
    if skippers == 1 and
        skip_admission_count(cfg, ph, redis.call('ZCARD', K_ACTIVE), 1) == 1 then
      admit(id, cfg, now, order)
      return {'ok', view(id), 1}
    end
    return {'ok', {id, 'waiting', 'none', I(order), I(now), '0', '0', I(skippers), I(seq), '0',
                   '0', '1'}, 1}
  end
  if rule == 'enter_prequeue' then
    -- The order of a pre-queue join is its arrival number (the `entered` event's); the draw
    -- gives it its real order base + place.
    local order = redis.call('HINCRBY', K_META, 'orders', 1)
    tput(id, {state = 'waiting', order = order, joined = now, ep = ep, seen = now, key = dkey,
              dk = dk})
    if dkey ~= '' then redis.call('HSET', K_DEDUPE, dkey, id) end
    redis.call('ZADD', K_PRE, 0, dk .. id)
    local seq = emit('entered', id, order, now, 0)
    return {'ok', {id, 'waiting', 'none', I(order), I(now), '0', '0', '0', I(seq), '1', '0', '0'},
            1}
  end
  local order = redis.call('HINCRBY', K_META, 'orders', 1)
  tput(id, {state = 'waiting', order = order, joined = now, ep = ep, seen = now, key = dkey,
            dk = ''})
  if dkey ~= '' then redis.call('HSET', K_DEDUPE, dkey, id) end
  redis.call('ZADD', K_WAIT, I(order), id)
  local skippers = skips_ever and redis.call('ZCARD', K_SKIP) or 0
  local waiting = skippers + waiting_entrants(d) + redis.call('ZCARD', K_WAIT)
  local seq = emit('joined', id, order, now, 0)
  if waiting == 1 then
    if admission_count(cfg, redis.call('ZCARD', K_ACTIVE), 1, now) == 1 then
      admit(id, cfg, now)
      return {'ok', view(id), 1}
    end
  end
  return {'ok', {id, 'waiting', 'none', I(order), I(now), '0', '0', I(waiting), I(seq), '0', '0',
                 '0'}, 1}
end
local replies = {}
for i = 2, #ARGV - 5, 6 do
  replies[#replies + 1] = join(tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
                               ARGV[i + 4], ARGV[i + 5])
end
return replies
