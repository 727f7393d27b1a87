-- Shared by every queue script: RedisStore loads each script as
--   <generated constants> .. lib.lua .. <script>.lua
-- The generated constants are RETENTION_MS (rules::kEndedRetentionMs).
--
-- KEYS[1..16] are the queue's keys (redis/keys.hpp, script_keys). Ticket hashes are not declared
-- keys (scripts find their ids in the sorted sets), but they carry the same {q} hash tag, so
-- they live in the queue's Cluster slot (as do the proof-of-work marks, PREFIX .. 'pow:' .. id).
-- Scripts that change the queue lists get them as KEYS[17] (aq:queues) and KEYS[18]
-- (aq:queues:open); nil in the others.
local K_META, K_CFG, K_WAIT, K_ACTIVE, K_SEEN, K_DEDUPE, K_OUTBOX, K_CLOSING, K_LAST_SEQ =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local K_PRE, K_PGONE, K_DRAW, K_CLOSING_PRE = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local K_SKIP, K_INV, K_INVS = KEYS[14], KEYS[15], KEYS[16]
local K_QUEUES, K_OPEN = KEYS[17], KEYS[18]
local PREFIX = string.sub(K_META, 1, -5)  -- 'aq:{q}:' from 'aq:{q}:meta'
local QUEUE = string.sub(K_META, 5, -7)   -- 'q' from 'aq:{q}:meta' (redis_keys::queue_of)

-- Numbers are always written as explicit strings: Lua's own conversion would turn a large
-- integer into '1.7e+14' and round a double to 14 digits.
local function I(x) return string.format('%d', x) end
local function F(x) return string.format('%.17g', x) end

-- rules::kSkipOrder (2^52): a skipper's order is SKIP_ORDER + n, exact as a Lua double and a
-- Redis score, and printed exactly by I() ('%d' goes through a C long: 64 bits here).
local SKIP_ORDER = 4503599627370496

local function tkey(id) return PREFIX .. 't:' .. id end
local function queue_exists() return redis.call('EXISTS', K_META) == 1 end
local function current_seq() return tonumber(redis.call('HGET', K_META, 'seq')) end
local function current_epoch() return tonumber(redis.call('HGET', K_META, 'epoch')) or 0 end

-- Closing a queue is O(1) (see close_queue.lua): it bumps meta.epoch and moves the waiting line
-- aside without touching the tickets. A ticket still marked waiting from an earlier epoch was
-- closed; every read applies this, so a close is complete the moment it commits.
local function effective(state, reason, ep)
  if state == 'waiting' and (tonumber(ep) or 0) < current_epoch() then return 'ended', 'closed' end
  return state, reason
end

-- The ticket's state and reason as callers see them; nil if there is no such ticket.
local function ticket_state(id)
  local t = redis.call('HMGET', tkey(id), 'state', 'reason', 'ep')
  if not t[1] then return nil end
  return effective(t[1], t[2], t[3])
end

-- Appends one event to the outbox with the queue's next seq. Called in the same script as the
-- state change it describes, so both commit together or not at all. The event is encoded here,
-- once, in the one wire form (core/event_codec.hpp; encode_event makes the same bytes), and
-- these bytes travel untouched: outbox -> Kafka -> Pub/Sub -> every process. No escaping is
-- needed: queue names are [a-z0-9-], ticket ids base64url, types fixed names.
local function emit(type, id, order, now, exp)
  local seq = redis.call('HINCRBY', K_META, 'seq', 1)
  if type == 'joined' or type == 'entered' then redis.call('HINCRBY', K_META, 'joined_total', 1) end
  redis.call('XADD', K_OUTBOX, '*', 'event',
             '{"queue":"' .. QUEUE .. '","seq":' .. I(seq) .. ',"type":"' .. type ..
             '","ticket":"' .. id .. '","order":' .. I(order) .. ',"at":' .. I(now) ..
             ',"exp":' .. I(exp) .. '}')
  return seq
end

local function opt_time(v)
  if v == nil or v == '' then return nil end
  return tonumber(v)
end

-- cfg.pow: {bits, adaptive, max_bits} of rules::encode_pow's string ('' or absent: off).
local function load_cfg()
  local c = redis.call('HMGET', K_CFG, 'admit_per_s', 'max_active', 'session_ttl_s',
                       'abandon_after_s', 'paused', 'prequeue_at', 'opens_at', 'closes_at', 'mode',
                       'pow', 'invite_only')
  local pw = {bits = 0, adaptive = false, max_bits = 0}
  if c[10] and c[10] ~= '' then
    local b, a, mx = string.match(c[10], '^(%d+) (%d) (%d+) ')
    if b then pw = {bits = tonumber(b), adaptive = a == '1', max_bits = tonumber(mx)} end
  end
  return {rate = tonumber(c[1]), max_active = tonumber(c[2]), ttl = tonumber(c[3]),
          abandon = tonumber(c[4]), paused = c[5] == '1', prequeue_at = opt_time(c[6]),
          opens_at = opt_time(c[7]), closes_at = opt_time(c[8]), mode = c[9] or 'fifo',
          pow = pw, invite_only = c[11] == '1'}
end

-- ---- The on-sale: rules mirrors -------------------------------------------------------------

-- rules::phase, line for line (src/core/rules.cpp). `dstate`: 'none' 'prequeue' 'drawn' 'void'.
local function phase(cfg, dstate, now)
  if cfg.closes_at and now >= cfg.closes_at * 1000 then return 'closed' end
  if dstate == 'drawn' or not cfg.opens_at or now >= cfg.opens_at * 1000 then return 'open' end
  if cfg.prequeue_at and now < cfg.prequeue_at * 1000 then return 'before' end
  return 'prequeue'
end

-- rules::join_rule.
local function join_rule(ph, mode)
  if ph == 'closed' then return 'refuse_closed' end
  if mode == 'reject' then return 'refuse_rejecting' end
  if ph == 'before' then return 'refuse_not_open' end
  if ph == 'prequeue' then return 'enter_prequeue' end
  return 'join_line'
end

-- ---- Bots pay, guests skip: rules mirrors (held equal to src/core/rules.cpp by a redistest) ---

-- rules::pow_required_bits. `pw`: load_cfg's cfg.pow.
local function pow_required_bits(pw, extra)
  if pw.bits <= 0 then return 0 end
  local need = pw.bits
  if pw.adaptive and extra > 0 then need = need + extra end
  return math.max(pw.bits, math.min(need, pw.max_bits))
end

-- rules::pow_refusal: the refusal's error code, or nil. `verdict`: PowVerdict's name.
local POW_VERDICT_REFUSAL = {none = 'pow_required', invalid = 'pow_invalid',
                             wrong_queue = 'pow_wrong_queue', expired = 'pow_expired',
                             insufficient = 'pow_insufficient'}
local function pow_refusal(required, verdict, bits)
  if required <= 0 then return nil end
  if verdict == 'valid' then
    if bits < required then return 'pow_insufficient' end
    return nil
  end
  return POW_VERDICT_REFUSAL[verdict] or 'pow_invalid'
end

-- An invite record (redis/keys.hpp invites: "uses used expires_ms skip revoked created_ms
-- label"), or nil if `rec` is nil/false or malformed.
local function parse_invite(rec)
  if not rec then return nil end
  local u, d, e, sk, rv, c, label =
    string.match(rec, '^(%d+) (%d+) (%d+) ([01]) ([01]) (%d+) (.*)$')
  if not u then return nil end
  return {uses = tonumber(u), used = tonumber(d), expires = tonumber(e), skip = sk == '1',
          revoked = rv == '1', created = tonumber(c), label = label}
end
local function encode_invite(v)
  return I(v.uses) .. ' ' .. I(v.used) .. ' ' .. I(v.expires) .. ' ' .. (v.skip and '1' or '0') ..
         ' ' .. (v.revoked and '1' or '0') .. ' ' .. I(v.created) .. ' ' .. v.label
end

-- rules::invite_refusal: the refusal's error code, or nil. `inv`: parse_invite's (nil: none).
local function invite_refusal(inv, now)
  if not inv then return 'invite_invalid' end
  if inv.revoked then return 'invite_revoked' end
  if inv.expires ~= 0 and now >= inv.expires then return 'invite_expired' end
  if inv.used >= inv.uses then return 'invite_used_up' end
  return nil
end

-- rules::skip_admission_count. `ph`: phase()'s name.
local function skip_admission_count(cfg, ph, active, skippers)
  if cfg.paused or ph ~= 'open' or skippers <= 0 then return 0 end
  return math.max(0, math.min(skippers, cfg.max_active - active))
end

-- rules::abandon_cutoff: nil = nobody is abandoned now.
local function abandon_cutoff(cfg, dstate, drawn_at, now)
  if dstate == 'prequeue' then return nil end
  local cutoff = now - cfg.abandon * 1000
  if dstate == 'drawn' and cutoff < drawn_at then return nil end
  return cutoff
end

-- rules::draw_due.
local function draw_due(cfg, dstate, now)
  return dstate == 'prequeue' and cfg.opens_at ~= nil and now >= cfg.opens_at * 1000
end

-- The draw of the current epoch (K_DRAW; state 'none' when there is none).
local function load_draw()
  local d = redis.call('HMGET', K_DRAW, 'state', 'base', 'n', 'head', 'drawn_at', 'commit')
  return {state = d[1] or 'none', base = tonumber(d[2]) or 0, n = tonumber(d[3]) or 0,
          head = tonumber(d[4]) or 1, drawn_at = tonumber(d[5]) or 0, commit = d[6] or ''}
end

-- The draw, if due (rules::draw_due): O(1) whatever the number of entrants, because `pre` is
-- already in draw order (each entrant's key was computed at its join). Entrant at place p gets
-- order base + p: after every order handed out so far, before every later join. Exactly once:
-- scripts are serialised by Redis and the first one past opens_at flips the state.
-- Returns the (possibly new) draw.
local function settle(cfg, now)
  -- (No opens_at: no draw in this epoch - a pre-queue cannot lose it, nor a drawn queue, and a
  -- reopen deletes the old one - so the common join skips reading the draw hash.)
  if not cfg.opens_at then
    return {state = 'none', base = 0, n = 0, head = 1, drawn_at = 0, commit = ''}
  end
  local d = load_draw()
  if draw_due(cfg, d.state, now) then
    local n = redis.call('ZCARD', K_PRE)
    local base = tonumber(redis.call('HGET', K_META, 'orders')) or 0
    redis.call('HINCRBY', K_META, 'orders', n)
    redis.call('HSET', K_DRAW, 'state', 'drawn', 'base', I(base), 'n', I(n), 'head', '1',
               'drawn_at', I(now))
    emit('drawn', '', base, now, n)
    d.state, d.base, d.n, d.head, d.drawn_at = 'drawn', base, n, 1, now
  end
  return d
end

local function queue_closed() return redis.call('HGET', K_META, 'closed') == '1' end

-- What a put_queue compare-and-set compares: the config version (+1 per put), the epoch
-- (+1 per close), closed, the draw state (the draw flips it).
local function version()
  local m = redis.call('HMGET', K_META, 'cfgv', 'epoch', 'closed')
  return (m[1] or '0') .. ':' .. (m[2] or '0') .. ':' .. (m[3] or '0') .. ':' .. load_draw().state
end

-- Every script that takes `now` calls this first (unless the queue is closed): a read at or
-- after opens_at sees a drawn queue even if no tick has run since.
local function settle_now(now)
  if not queue_closed() then return settle(load_cfg(), now) end
  return load_draw()
end

-- Waiting drawn entrants: places head..n, less those gone (pgone at or above head).
local function waiting_entrants(d)
  if d.state ~= 'drawn' or d.head > d.n or queue_closed() then return 0 end
  return d.n - d.head + 1 - redis.call('ZCOUNT', K_PGONE, d.head, '+inf')
end

-- The place (1-based) of an entrant in the frozen `pre`, or 0.
local function place_of(id, dk)
  local r = redis.call('ZRANK', K_PRE, dk .. id)
  if r then return r + 1 end
  return 0
end

-- rules::admission_count, line for line (src/core/rules.cpp): the same doubles, the same
-- cap max(1, rate), the same floor with 1e-9. The bucket (tokens, last_ms) lives in the meta
-- hash; it is written back on every call because a refill changes it even when nobody is let in.
local function admission_count(cfg, active, waiting, now)
  local b = redis.call('HMGET', K_META, 'tokens', 'last_ms')
  local tokens = tonumber(b[1]) or 0
  local last_ms = tonumber(b[2]) or 0
  local cap = math.max(1.0, cfg.rate)
  if last_ms == 0 then last_ms = now end
  if now > last_ms then
    tokens = math.min(cap, tokens + (now - last_ms) * cfg.rate / 1000.0)
    last_ms = now
  end
  local n = 0
  if not cfg.paused then
    if cfg.mode == 'passthrough' then
      n = math.max(0, math.min(cfg.max_active - active, waiting))
    else
      n = math.floor(tokens + 1e-9)
      n = math.min(n, math.max(0, cfg.max_active - active), waiting)
      if n > 0 then
        tokens = tokens - n
      else
        n = 0
      end
    end
  end
  redis.call('HSET', K_META, 'tokens', F(tokens), 'last_ms', I(last_ms))
  return n
end

-- Admits a waiting ticket. `order`: its order if the caller knows it (saves a read); `place`:
-- a drawn entrant's place (it is not in the line, and its order and place become fixed).
local function admit(id, cfg, now, order, place)
  local k = tkey(id)
  local exp = now + cfg.ttl * 1000
  if place then
    redis.call('HSET', k, 'state', 'active', 'admitted', I(now), 'expires', I(exp),
               'order', I(order), 'place', I(place))
  else
    order = order or tonumber(redis.call('HGET', k, 'order'))
    redis.call('ZREM', order >= SKIP_ORDER and K_SKIP or K_WAIT, id)
    redis.call('HSET', k, 'state', 'active', 'admitted', I(now), 'expires', I(exp))
  end
  redis.call('ZREM', K_SEEN, id)
  redis.call('ZADD', K_ACTIVE, I(exp), id)
  redis.call('HINCRBY', K_META, 'admitted_total', 1)
  emit('admitted', id, order, now, exp)
end

-- Admits up to k waiting drawn entrants in place order from the head, skipping places whose
-- entrant is no longer waiting (left, abandoned); advances the head. At most 2k places are
-- looked at per call (the rest: next call), so a run of gone places never makes one call long.
-- Returns how many were admitted.
local function admit_entrants(d, k, cfg, now)
  local admitted, looked = 0, 0
  local head = d.head
  while admitted < k and head <= d.n and looked < 2 * k do
    local members = redis.call('ZRANGE', K_PRE, head - 1, head - 1 + (k - admitted) - 1)
    if #members == 0 then break end
    for _, m in ipairs(members) do
      local id = string.sub(m, 33)
      if redis.call('HGET', tkey(id), 'state') == 'waiting' then
        admit(id, cfg, now, d.base + head, head)
        admitted = admitted + 1
      end
      head = head + 1
      looked = looked + 1
    end
  end
  if head ~= d.head then
    redis.call('HSET', K_DRAW, 'head', I(head))
    d.head = head
  end
  return admitted
end

-- Admits the first k waiting skippers (FIFO: score n); returns how many.
local function admit_skippers(k, cfg, now)
  if k <= 0 then return 0 end
  local head = redis.call('ZRANGE', K_SKIP, 0, k - 1, 'WITHSCORES')
  for i = 1, #head, 2 do admit(head[i], cfg, now, SKIP_ORDER + tonumber(head[i + 1])) end
  return #head / 2
end

local END_TOTAL = {left = 'left_total', expired = 'expired_total',
                   completed = 'completed_total', abandoned = 'abandoned_total'}

-- Ends a waiting or active ticket. `why` is the event type, which is also the end reason.
-- Tickets ended by a queue close get no event of their own (one `closed` event covers them).
-- A waiting entrant leaves `pre` before the draw (it will not be drawn); after it, `pre` is
-- frozen and its place goes to pgone instead, with order base + place.
local function end_ticket(id, why, now)
  local k = tkey(id)
  local t = redis.call('HMGET', k, 'state', 'order', 'expires', 'key', 'dk', 'ep')
  redis.call('ZREM', K_WAIT, id)
  redis.call('ZREM', K_SEEN, id)
  redis.call('ZREM', K_ACTIVE, id)
  if not t[1] then return end  -- hash gone (only if someone deleted keys by hand)
  local order = tonumber(t[2]) or 0
  if order >= SKIP_ORDER then redis.call('ZREM', K_SKIP, id) end
  local dk = t[5]
  if dk and dk ~= '' and t[1] == 'waiting' and why ~= 'closed' and
      (tonumber(t[6]) or 0) == current_epoch() then
    local d = load_draw()
    if d.state == 'prequeue' then
      redis.call('ZREM', K_PRE, dk .. id)
    elseif d.state == 'drawn' then
      local place = place_of(id, dk)
      if place > 0 then
        order = d.base + place
        redis.call('HSET', k, 'order', I(order), 'place', I(place))
        if place >= d.head then redis.call('ZADD', K_PGONE, I(place), id) end
      end
    end
  end
  redis.call('HSET', k, 'state', 'ended', 'reason', why)
  redis.call('PEXPIRE', k, RETENTION_MS)
  local key = t[4]
  if key and key ~= '' and redis.call('HGET', K_DEDUPE, key) == id then
    redis.call('HDEL', K_DEDUPE, key)
  end
  if END_TOTAL[why] then redis.call('HINCRBY', K_META, END_TOTAL[why], 1) end
  if why ~= 'closed' then emit(why, id, order, now, tonumber(t[3]) or 0) end
end

-- A ticket as RedisStore parses it (12 strings): id state reason order joined admitted expires
-- position seq entrant(1/0) place skip(1/0). A waiting skipper's position is 1 + the skippers
-- ahead of it; everyone else waits behind every waiting skipper. A waiting entrant has
-- position 0 and place 0 until the draw; after it, place = rank in the frozen `pre`, order =
-- base + place, and its position counts the waiting entrants ahead; a post-open ticket waits
-- behind every waiting entrant.
local function view(id)
  local t = redis.call('HMGET', tkey(id), 'state', 'reason', 'order', 'joined', 'admitted',
                       'expires', 'ep', 'dk', 'place')
  local state, reason = effective(t[1] or 'ended', t[2] or 'none', t[7])
  local entrant = t[8] ~= nil and t[8] ~= false and t[8] ~= ''
  local order, place, pos = t[3] or '0', tonumber(t[9]) or 0, 0
  local skip = (tonumber(order) or 0) >= SKIP_ORDER
  if state == 'waiting' and skip then
    local rank = redis.call('ZRANK', K_SKIP, id)
    if rank then pos = rank + 1 end
  elseif state == 'waiting' then
    local d = load_draw()
    if entrant then
      if d.state == 'drawn' then
        place = place_of(id, t[8])
        order = I(d.base + place)
        pos = place - (d.head - 1) - redis.call('ZCOUNT', K_PGONE, d.head, place - 1)
        pos = pos + redis.call('ZCARD', K_SKIP)
      end
    else
      local rank = redis.call('ZRANK', K_WAIT, id)
      if rank then pos = redis.call('ZCARD', K_SKIP) + waiting_entrants(d) + rank + 1 end
    end
  elseif entrant and place == 0 and (tonumber(t[7]) or 0) == current_epoch() then
    -- (An entrant admitted or ended after the draw has its place in the hash; this is only
    -- reached for one that never had one fixed, e.g. ended before the draw: not in `pre`.)
    if load_draw().state == 'drawn' then place = place_of(id, t[8]) end
  end
  return {id, state, reason, order, t[4] or '0', t[5] or '0', t[6] or '0', I(pos),
          redis.call('HGET', K_META, 'seq'), entrant and '1' or '0', I(place), skip and '1' or '0'}
end

-- Moves sorted set `from` into `to`, to be drained later: a RENAME (O(1)), or a union when `to`
-- still holds an earlier set not yet drained (O(n), rare).
local function set_aside(from, to)
  if redis.call('EXISTS', to) == 0 then
    redis.call('RENAME', from, to)
  else
    redis.call('ZUNIONSTORE', to, 2, to, from)
    redis.call('UNLINK', from)
  end
end

-- Finishes up to `limit` tickets of earlier closes: K_CLOSING (the line when it closed), then
-- the closed epoch's `pre` by the rank cursor draw.cdrain (kept whole while closed: the draw stays
-- downloadable), then K_CLOSING_PRE (a `pre` set aside by a reopen). Marks them ended, starts
-- their retention and frees their dedupe keys. Makes no events: the queue's `closed` event covers
-- them.
local function drain_closed(limit, now)
  local ids = redis.call('ZRANGE', K_CLOSING, 0, limit - 1)
  for _, id in ipairs(ids) do
    redis.call('ZREM', K_CLOSING, id)
    if redis.call('HGET', tkey(id), 'state') == 'waiting' then end_ticket(id, 'closed', now) end
  end
  local cursor = redis.call('HGET', K_DRAW, 'cdrain')
  if cursor and cursor ~= 'done' and queue_closed() then
    local c = tonumber(cursor)
    local members = redis.call('ZRANGE', K_PRE, c, c + limit - 1)
    for _, m in ipairs(members) do
      local id = string.sub(m, 33)
      if redis.call('HGET', tkey(id), 'state') == 'waiting' then end_ticket(id, 'closed', now) end
    end
    redis.call('HSET', K_DRAW, 'cdrain', #members < limit and 'done' or I(c + #members))
  end
  local members = redis.call('ZRANGE', K_CLOSING_PRE, 0, limit - 1)
  for _, m in ipairs(members) do
    redis.call('ZREM', K_CLOSING_PRE, m)
    local id = string.sub(m, 33)
    if redis.call('HGET', tkey(id), 'state') == 'waiting' then end_ticket(id, 'closed', now) end
  end
end

-- Closes the queue (O(1) whatever the length of the line): the line is moved aside (RENAME)
-- and the epoch bumped, which ends every waiting ticket in it at once for all readers
-- (effective); the bookkeeping is drained `batch` at a time (drain_closed). A pre-queue that
-- never drew is void. Needs KEYS[17], KEYS[18]. Returns true if it closed the queue now.
local function close(now, batch)
  if queue_closed() then return false end
  redis.call('HSET', K_META, 'closed', '1', 'closed_ms', I(now))
  redis.call('SREM', K_OPEN, QUEUE)
  redis.call('HINCRBY', K_META, 'epoch', 1)
  -- (A union only if closed again before the previous close was drained: close, reopen, close.)
  if redis.call('EXISTS', K_WAIT) == 1 then set_aside(K_WAIT, K_CLOSING) end
  if redis.call('EXISTS', K_SKIP) == 1 then set_aside(K_SKIP, K_CLOSING) end
  redis.call('UNLINK', K_SEEN)  -- only waiting tickets are in it; freed in the background
  local d = load_draw()
  if d.state == 'prequeue' then
    redis.call('HSET', K_DRAW, 'state', 'void', 'n', I(redis.call('ZCARD', K_PRE)), 'cdrain', '0')
  elseif d.state == 'drawn' then
    redis.call('HSET', K_DRAW, 'cdrain', I(math.min(d.head, d.n + 1) - 1))
  end
  emit('closed', '', 0, now, 0)
  return true
end

-- Queue info as RedisStore parses it (30 strings): closed seq admitted_total abandoned_total
-- expired_total completed_total left_total admit_per_s max_active session_ttl_s
-- abandon_after_s paused target_url webhooks waiting active oldest_joined_ms prequeue_at
-- opens_at closes_at mode message draw_state commitment entrants base drawn_at pow invite_only joined_total.
-- waiting counts the waiting skippers, the waiting drawn entrants (the head of the line) and the
-- FIFO line; oldest_joined_ms is the earliest join among the heads of the three.
local function info()
  local out = redis.call('HMGET', K_META, 'closed', 'seq', 'admitted_total', 'abandoned_total',
                         'expired_total', 'completed_total', 'left_total')
  for i = 1, 7 do out[i] = out[i] or '0' end
  local c = redis.call('HMGET', K_CFG, 'admit_per_s', 'max_active', 'session_ttl_s',
                       'abandon_after_s', 'paused', 'target_url', 'webhooks', 'prequeue_at',
                       'opens_at', 'closes_at', 'mode', 'message', 'pow', 'invite_only')
  for i = 1, 7 do out[#out + 1] = c[i] or '' end
  local d = load_draw()
  local entrants = waiting_entrants(d)
  local line = redis.call('ZCARD', K_WAIT)
  local skippers = redis.call('ZCARD', K_SKIP)
  local oldest = '0'
  if entrants > 0 then
    -- The first waiting entrant from the head (a short bounded look: gone places are rare
    -- there, as admission moves the head past them).
    for _, m in ipairs(redis.call('ZRANGE', K_PRE, d.head - 1, d.head + 30)) do
      local id = string.sub(m, 33)
      if not redis.call('ZSCORE', K_PGONE, id) then
        oldest = redis.call('HGET', tkey(id), 'joined') or '0'
        break
      end
    end
  elseif line > 0 then
    local head = redis.call('ZRANGE', K_WAIT, 0, 0)
    oldest = redis.call('HGET', tkey(head[1]), 'joined') or '0'
  end
  if skippers > 0 then
    local sk = redis.call('ZRANGE', K_SKIP, 0, 0)
    local j = redis.call('HGET', tkey(sk[1]), 'joined') or '0'
    if oldest == '0' or tonumber(j) < tonumber(oldest) then oldest = j end
  end
  out[#out + 1] = I(skippers + entrants + line)
  out[#out + 1] = I(redis.call('ZCARD', K_ACTIVE))
  out[#out + 1] = oldest
  for i = 8, 12 do out[#out + 1] = c[i] or '' end
  local count = d.n
  if d.state == 'prequeue' then count = redis.call('ZCARD', K_PRE) end
  out[#out + 1] = d.state
  out[#out + 1] = d.commit
  out[#out + 1] = I(count)
  out[#out + 1] = I(d.base)
  out[#out + 1] = I(d.drawn_at)
  out[#out + 1] = c[13] or ''
  out[#out + 1] = c[14] or '0'
  out[#out + 1] = redis.call('HGET', K_META, 'joined_total') or '0'
  return out
end

-- True unless a relay (a consumer group of the outbox) has not yet read, or not yet had Kafka
-- confirm, the outbox's last event: a queue is not forgotten while Kafka is away, so its last
-- events cannot expire with the outbox. (No group: nothing relays this queue.)
local function outbox_relayed()
  if redis.call('EXISTS', K_OUTBOX) == 0 then return true end
  local info = redis.call('XINFO', 'STREAM', K_OUTBOX)
  local last
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', K_OUTBOX)) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    if tonumber(f['pending']) > 0 or f['last-delivered-id'] ~= last then return false end
  end
  return true
end

-- Forgets the queue if it is closed and done (rules::forgettable: no active session, the close
-- abandon_after_s old; and here also its close drained): the tick calls it. Deletes every key
-- of the queue and its names in the queue lists, except:
-- - K_LAST_SEQ, written here: a queue made again under the name continues its seq (put_queue);
-- - the outbox: Kafka has confirmed all of it (outbox_relayed), but the tailers may not have
--   read its last events yet, so it expires RETENTION_MS later instead (put_queue keeps it if
--   the queue is made again first);
-- - ticket hashes: every one has ended (none active, none waiting) and expires on its own;
--   so do the proof-of-work marks (PXAT their challenge's expiry).
-- Returns true if it forgot the queue.
local function forget_if_done(cfg, now)
  local m = redis.call('HMGET', K_META, 'closed', 'closed_ms', 'seq')
  if m[1] ~= '1' then return false end
  if redis.call('ZCARD', K_ACTIVE) > 0 or redis.call('EXISTS', K_CLOSING) == 1 or
      redis.call('EXISTS', K_SKIP) == 1 or
      redis.call('EXISTS', K_CLOSING_PRE) == 1 then
    return false
  end
  local cursor = redis.call('HGET', K_DRAW, 'cdrain')
  if cursor and cursor ~= 'done' then return false end
  -- (A queue closed before closed_ms was recorded counts as closed long ago.)
  if (tonumber(m[2]) or 0) + cfg.abandon * 1000 > now then return false end
  if not outbox_relayed() then return false end
  redis.call('SET', K_LAST_SEQ, m[3])
  redis.call('UNLINK', K_META, K_CFG, K_WAIT, K_ACTIVE, K_SEEN, K_DEDUPE, K_CLOSING, K_PRE,
             K_PGONE, K_DRAW, K_SKIP, K_INV, K_INVS)
  redis.call('PEXPIRE', K_OUTBOX, RETENTION_MS)
  redis.call('SREM', K_QUEUES, QUEUE)
  redis.call('SREM', K_OPEN, QUEUE)
  return true
end
