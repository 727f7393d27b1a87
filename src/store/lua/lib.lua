-- Shared by every queue script: RedisStore loads each script as
--   <generated constants> .. lib.lua .. <script>.lua
-- The generated constants are RETENTION_MS (rules::kEndedRetentionMs) and CLUSTER (true when
-- the store runs on a Redis Cluster: RedisOptions::cluster; the two sets of scripts differ in
-- this line, so in their SHA1s).
--
-- KEYS[1..21] are the queue's keys (redis/keys.hpp, script_keys), and a script touches no other
-- key: in a Redis Cluster, a call on a key a script did not declare is checked on its own, and on
-- a slot being migrated it fails ("Script attempted to access a non local key") with the
-- script's earlier writes kept (src/store/README.md "Scripts during a slot migration").
-- No script touches the global queue lists (aq:queues, aq:queues:open): they live outside the
-- queue's Cluster slot. RedisStore keeps them with single-key commands (README "The queue
-- registry"); scripts that change what belongs there say so in their reply.
local K_META, K_CFG, K_WAIT, K_ACTIVE, K_LIVE, K_DEDUPE, K_OUTBOX, K_CLOSING, K_LAST_SEQ =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local K_PRE, K_PGONE, K_DRAW, K_CLOSING_PRE = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local K_SKIP, K_INV, K_INVS = KEYS[14], KEYS[15], KEYS[16]
local K_ENDED0, K_ENDED1, K_POW, K_TICK, K_SEEN = KEYS[17], KEYS[18], KEYS[19], KEYS[20], KEYS[21]
local PREFIX = string.sub(K_META, 1, -5)  -- 'aq:{q}:' from 'aq:{q}:meta'
local QUEUE = string.sub(K_META, 5, -7)   -- 'q' from 'aq:{q}:meta' (redis_keys::queue_of)

-- Numbers are always written as explicit strings: Lua's own conversion would turn a large
-- integer into '1.7e+14' and round a double to 14 digits.
local function I(x) return string.format('%d', x) end
local function F(x) return string.format('%.17g', x) end

-- rules::kSkipOrder (2^52): a skipper's order is SKIP_ORDER + n, exact as a Lua double and a
-- Redis score, and printed exactly by I() ('%d' goes through a C long: 64 bits here).
local SKIP_ORDER = 4503599627370496

-- (The layout before: a key per ticket; standalone only, see migrate.)
local function tkey(id) return PREFIX .. 't:' .. id end
local function queue_exists() return redis.call('EXISTS', K_META) == 1 end
local function current_seq() return tonumber(redis.call('HGET', K_META, 'seq')) end
local function current_epoch() return tonumber(redis.call('HGET', K_META, 'epoch')) or 0 end

-- ---- Ticket records ---------------------------------------------------------------------------
-- A waiting or active ticket is one field of the queue's K_LIVE hash (field = id); once it has
-- ended it moves to one of the two ended hashes (tend), kept RETENTION_MS to 2 x RETENTION_MS
-- (the visitor's last GET).
-- One hash field costs ~100 B where a hash key per ticket cost ~220 B (key name, main-dict
-- entry, object, listpack): the bytes of a waiting ticket (redis/keys.hpp live). Numbers are
-- hex (%x: 64-bit here; tonumber(s, 16) reads them back exactly up to 2^53), times in ms:
--   waiting: 'w order joined ep seen-joined klen ' key dk
--   active / ended: 'a|e order joined ep admitted expires place reason klen ' key dk
-- key = the dedupe key (klen bytes, any bytes), dk = the rest: an entrant's 32-byte draw key or
-- ''. A waiting ticket keeps last seen as a distance from its join ('0' until a touch), which
-- keeps a fresh ticket's value at 26-32 bytes (one 32-byte allocation). Everything reads and
-- writes tickets through tget / tput / tend below.
-- ENDED_GEN (a field no ticket id can be: ids are base64url) holds each ended hash's period.
local function X(x) return string.format('%x', x) end
local function H(s) return tonumber(s, 16) end
local STATE_OF = {w = 'waiting', a = 'active', e = 'ended'}

local function decode(v)
  if string.sub(v, 1, 1) == 'w' then
    local o, j, ep, sd, kl, at = string.match(v, '^w (%x+) (%x+) (%x+) (%x+) (%d+) ()')
    local joined, klen = H(j), tonumber(kl)
    return {state = 'waiting', reason = 'none', order = H(o), joined = joined, ep = H(ep),
            seen = joined + H(sd), admitted = 0, expires = 0, place = 0,
            key = string.sub(v, at, at + klen - 1), dk = string.sub(v, at + klen)}
  end
  local st, o, j, ep, a, e, p, why, kl, at =
    string.match(v, '^(%a) (%x+) (%x+) (%x+) (%x+) (%x+) (%x+) (%a+) (%d+) ()')
  local klen = tonumber(kl)
  return {state = STATE_OF[st], reason = why, order = H(o), joined = H(j), ep = H(ep), seen = 0,
          admitted = H(a), expires = H(e), place = H(p), key = string.sub(v, at, at + klen - 1),
          dk = string.sub(v, at + klen)}
end

local function encode(t)
  local tail = ' ' .. I(#t.key) .. ' ' .. t.key .. t.dk
  if t.state == 'waiting' then
    return 'w ' .. X(t.order) .. ' ' .. X(t.joined) .. ' ' .. X(t.ep) .. ' ' ..
           X(math.max(0, t.seen - t.joined)) .. tail
  end
  return string.sub(t.state, 1, 1) .. ' ' .. X(t.order) .. ' ' .. X(t.joined) .. ' ' ..
         X(t.ep) .. ' ' .. X(t.admitted) .. ' ' .. X(t.expires) .. ' ' .. X(t.place) .. ' ' ..
         t.reason .. tail
end

-- Writes a live ticket.
local function tput(id, t) redis.call('HSET', K_LIVE, id, encode(t)) end

-- Ended tickets: two hashes that take turns, K_ENDED0 and K_ENDED1 (field id -> the record).
-- Period P = floor(now / RETENTION_MS); a ticket ended in P goes to hash P % 2, whose field
-- ENDED_GEN says which period it holds. The first write of a new period empties the hash it
-- reuses (it held P - 2 or older) and the other one too if it holds P - 2 or older (more than
-- one period passed): so an ended ticket is readable for at least RETENTION_MS and at most
-- 2 x RETENTION_MS after it ended (plus the time to the queue's next write of an end: the tick
-- rotates too, at least once a second). A hash that already holds a newer period (another
-- process's clock ahead) is written as it is. The period lives in the hashes, not in meta, so a
-- queue forgotten and made again (put_queue PERSISTs them) keeps its ended tickets readable.
-- Costs one hash field per ended ticket (138 B where a key with a TTL cost 213 B: README "Ended
-- tickets"); ENDED_GEN is read once per script run.
local ENDED_GEN = '#gen'
local ended_key  -- the hash of this script's period once known (one check per script run)
local function ended_hash(now)
  if ended_key then return ended_key end
  local p = math.floor(now / RETENTION_MS)
  local cur, other = K_ENDED0, K_ENDED1
  if p % 2 == 1 then cur, other = K_ENDED1, K_ENDED0 end
  local g = tonumber(redis.call('HGET', cur, ENDED_GEN))
  if g == nil or g < p then
    if g ~= nil then redis.call('UNLINK', cur) end
    redis.call('HSET', cur, ENDED_GEN, I(p))
    local og = tonumber(redis.call('HGET', other, ENDED_GEN))
    if og ~= nil and og < p - 1 then redis.call('UNLINK', other) end
  end
  ended_key = cur
  return cur
end

-- The upgrade from the layout before (one HASH per ticket at tkey(id): state reason order joined
-- admitted expires key ep [dk place], and last seen in the ZSET K_SEEN): such a ticket is
-- converted where it is first met (a set's member with no live record, or a GET of its id), so
-- queues running across the upgrade go on; an ended one stays a string at tkey(id) for the rest
-- of its retention (tget reads it). Returns its record, or nil if there is none.
-- Standalone only (CLUSTER false): no version before this one ran on a cluster, and tkey(id) is
-- not a declared key.
local function migrate(id)
  if CLUSTER then return nil end
  local k = tkey(id)
  if redis.call('TYPE', k)['ok'] ~= 'hash' then return nil end
  local h = redis.call('HMGET', k, 'state', 'reason', 'order', 'joined', 'admitted', 'expires',
                       'key', 'ep', 'dk', 'place')
  local seen = redis.call('ZSCORE', K_SEEN, id)
  local t = {state = h[1] or 'ended', reason = h[2] or 'none', order = tonumber(h[3]) or 0,
             joined = tonumber(h[4]) or 0, admitted = tonumber(h[5]) or 0,
             expires = tonumber(h[6]) or 0, key = h[7] or '', ep = tonumber(h[8]) or 0,
             dk = h[9] or '', place = tonumber(h[10]) or 0}
  t.seen = tonumber(seen) or t.joined
  local ttl = redis.call('PTTL', k)
  redis.call('DEL', k)
  redis.call('ZREM', K_SEEN, id)
  if t.state == 'waiting' or t.state == 'active' then
    tput(id, t)
  else
    redis.call('SET', k, encode(t), 'PX', ttl > 0 and ttl or RETENTION_MS)
  end
  return t
end

-- A live ticket (waiting or active), or nil.
local function tlive(id)
  local v = redis.call('HGET', K_LIVE, id)
  if v then return decode(v) end
  local t = migrate(id)
  if t and (t.state == 'waiting' or t.state == 'active') then return t end
  return nil
end
-- Any ticket still known (live, or ended within its retention), or nil.
local function tget(id)
  local v = redis.call('HGET', K_LIVE, id)
  if v then return decode(v) end
  if id ~= ENDED_GEN then
    v = redis.call('HGET', K_ENDED0, id) or redis.call('HGET', K_ENDED1, id)
    if v then return decode(v) end
  end
  if CLUSTER then return nil end
  -- The layout before (standalone only): a ticket hash, or an ended ticket's string (PX
  -- RETENTION_MS: still read until it expires by itself).
  local ty = redis.call('TYPE', tkey(id))['ok']
  if ty == 'hash' then return migrate(id) end
  if ty ~= 'string' then return nil end
  v = redis.call('GET', tkey(id))
  return v and decode(v) or nil
end
-- Moves an ended ticket out of the live hash into the ended hash of `now`'s period.
local function tend(id, t, now)
  redis.call('HDEL', K_LIVE, id)
  redis.call('HSET', ended_hash(now), id, encode(t))
end

-- Used proof-of-work challenges (join.lua): K_POW, member challenge id, score its expiry (ms).
-- The tick removes the expired ones (a challenge past its expiry is refused anyway).
local function pow_used(pid)
  if redis.call('ZSCORE', K_POW, pid) then return true end
  -- (The layout before, standalone only: a string per used challenge, PXAT its expiry.)
  return not CLUSTER and redis.call('EXISTS', PREFIX .. 'pow:' .. pid) == 1
end
local function pow_take(pid, expires_ms) redis.call('ZADD', K_POW, expires_ms, pid) end
local function pow_drop_expired(now) redis.call('ZREMRANGEBYSCORE', K_POW, '-inf', I(now)) end

-- Closing a queue is O(1) (see close_queue.lua): it bumps meta.epoch and moves the waiting line
-- aside without touching the tickets. A ticket still marked waiting from an earlier epoch was
-- closed; every read applies this, so a close is complete the moment it commits.
local function effective(state, reason, ep)
  if state == 'waiting' and (tonumber(ep) or 0) < current_epoch() then return 'ended', 'closed' end
  return state, reason
end

-- The ticket's state and reason as callers see them; nil if there is no such ticket.
local function ticket_state(id)
  local t = tget(id)
  if not t then return nil end
  return effective(t.state, t.reason, t.ep)
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

local END_TOTAL = {left = 'left_total', expired = 'expired_total',
                   completed = 'completed_total', abandoned = 'abandoned_total'}

-- Ends a waiting or active ticket. `why` is the event type, which is also the end reason.
-- Tickets ended by a queue close get no event of their own (one `closed` event covers them).
-- A waiting entrant leaves `pre` before the draw (it will not be drawn); after it, `pre` is
-- frozen and its place goes to pgone instead, with order base + place. `t`: its live record if
-- the caller has read it (saves a read). The record moves to an ended hash (tend).
local function end_ticket(id, why, now, t)
  t = t or tlive(id)
  redis.call('ZREM', K_WAIT, id)
  redis.call('ZREM', K_ACTIVE, id)
  if not t then return end  -- record gone (only if someone deleted keys by hand)
  if t.order >= SKIP_ORDER then redis.call('ZREM', K_SKIP, id) end
  if t.dk ~= '' and t.state == 'waiting' and why ~= 'closed' and t.ep == current_epoch() then
    local d = load_draw()
    if d.state == 'prequeue' then
      redis.call('ZREM', K_PRE, t.dk .. id)
    elseif d.state == 'drawn' then
      local place = place_of(id, t.dk)
      if place > 0 then
        t.order, t.place = d.base + place, place
        if place >= d.head then redis.call('ZADD', K_PGONE, I(place), id) end
      end
    end
  end
  t.state, t.reason = 'ended', why
  tend(id, t, now)
  if t.key ~= '' and redis.call('HGET', K_DEDUPE, t.key) == id then
    redis.call('HDEL', K_DEDUPE, t.key)
  end
  if END_TOTAL[why] then redis.call('HINCRBY', K_META, END_TOTAL[why], 1) end
  if why ~= 'closed' then emit(why, id, t.order, now, t.expires) end
end

-- Admits a waiting ticket. `order`: its order if the caller knows it; `place`: a drawn
-- entrant's place (it is not in the line, and its order and place become fixed). `t`: its live
-- record if read. `cutoff` (abandon_cutoff, nil = none): a ticket last seen at or before it is
-- ended `abandoned` instead - the sweep (sweep_abandoned) may not have reached it yet, and
-- nobody unseen for abandon_after_s is ever let in. Returns true if it admitted the ticket.
local function admit(id, cfg, now, order, place, t, cutoff)
  t = t or tlive(id)
  if not t or t.state ~= 'waiting' then return false end
  if cutoff and t.seen <= cutoff then
    end_ticket(id, 'abandoned', now, t)
    return false
  end
  local exp = now + cfg.ttl * 1000
  if place then
    t.order, t.place = order, place
  else
    order = order or t.order
    redis.call('ZREM', order >= SKIP_ORDER and K_SKIP or K_WAIT, id)
  end
  t.state, t.admitted, t.expires = 'active', now, exp
  tput(id, t)
  redis.call('ZADD', K_ACTIVE, I(exp), id)
  redis.call('HINCRBY', K_META, 'admitted_total', 1)
  emit('admitted', id, order, now, exp)
  return true
end

-- Admits up to k waiting drawn entrants in place order from the head, skipping places whose
-- entrant is no longer waiting (left, abandoned); advances the head. At most 2k places are
-- looked at per call (the rest: next call), so a run of gone places never makes one call long.
-- Returns how many were admitted.
local function admit_entrants(d, k, cfg, now, cutoff)
  local admitted, looked = 0, 0
  local head = d.head
  while admitted < k and head <= d.n and looked < 2 * k do
    local members = redis.call('ZRANGE', K_PRE, head - 1, head - 1 + (k - admitted) - 1)
    if #members == 0 then break end
    for _, m in ipairs(members) do
      local id = string.sub(m, 33)
      if admit(id, cfg, now, d.base + head, head, nil, cutoff) then admitted = admitted + 1 end
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

-- Admits up to k waiting skippers from the head of K_SKIP (FIFO: score n), looking at most at
-- 2k (an unseen one is abandoned instead: admit); returns how many.
local function admit_skippers(k, cfg, now, cutoff)
  local admitted, looked = 0, 0
  while admitted < k and looked < 2 * k do
    local head = redis.call('ZRANGE', K_SKIP, 0, k - admitted - 1, 'WITHSCORES')
    if #head == 0 then break end
    for i = 1, #head, 2 do
      if admit(head[i], cfg, now, SKIP_ORDER + tonumber(head[i + 1]), nil, nil, cutoff) then
        admitted = admitted + 1
      end
      looked = looked + 1
    end
  end
  return admitted
end

-- ---- Abandonment: a bounded sweep over the waiting ---------------------------------------------
-- There is no index by last seen (a `seen` zset cost ~117 B per waiting ticket); last seen is in
-- each ticket's record. The tick walks the waiting with a cursor kept in meta - the skippers
-- (by n), then the drawn entrants (by place, from the head), then the line (by order), then
-- round again - and ends those last seen at or before the cutoff. Work per call:
-- - owed checks grow by N x elapsed / abandon_after_s (meta swdue, swms), capped at N, where N
--   (swn) is the most waiting seen since the pass began (not the number now: what the sweep
--   itself drops behind the cursor must not slow it down): each pass takes at most about
--   abandon_after_s, so a visitor is dropped between abandon_after_s and 2 x abandon_after_s
--   after last seen (or at its admission, which never lets an unseen ticket in);
-- - a queue of at most SWEEP_FLOOR waiting is checked whole at every tick, exactly as
--   MemoryStore (dropped at the first tick at or after the cutoff); a longer one only as owed
--   (whole checks: a tick owing less than one does no walk at all, the common case);
-- - at most SWEEP_MAX checks and `limit` abandonments a call (owed checks carry over).
-- Cost: ~4 us of Redis time per check (measured: 200k waiting, abandon_after_s 20, 10k checks/s
-- took 42 ms/s more than none, on this 2-core machine at load 17), so waiting / abandon_after_s
-- checks a second in all (1M waiting, abandon_after_s 120: ~8,300 checks/s, ~35 ms/s), shared
-- by every process that ticks the queue (the cursor and the owed count are the queue's, in
-- meta). At most SWEEP_MAX a call: a queue owing more than SWEEP_MAX x its ticks a second falls
-- behind (swdue grows) and drops late; the admission check still keeps the unseen out.
local SWEEP_FLOOR, SWEEP_MAX = 32, 1000
local SWEEP_NEXT = {k = 'p', p = 'w', w = 'k'}

-- Returns how many tickets it ended `abandoned`. `d`: the draw; `cutoff`: abandon_cutoff's.
local function sweep_abandoned(cfg, d, cutoff, limit, now)
  local m = redis.call('HMGET', K_META, 'swset', 'swpos', 'swdue', 'swms', 'swn')
  local set, pos = m[1] or 'k', tonumber(m[2]) or 0
  local due, last = tonumber(m[3]) or 0, tonumber(m[4]) or 0
  local entrants = waiting_entrants(d)
  local waiting = redis.call('ZCARD', K_SKIP) + entrants + redis.call('ZCARD', K_WAIT)
  local n = math.max(tonumber(m[5]) or 0, waiting)
  if now > last then
    due = math.min(n, due + n * (now - last) / (cfg.abandon * 1000))
    last = now
  end
  local budget = math.min(SWEEP_MAX, math.floor(due))
  if waiting <= SWEEP_FLOOR then  -- one whole pass from the start (gone places in `pre` count)
    set, pos, budget = 'k', 0, 2 * SWEEP_FLOOR
  end
  local checked, ended, moves = 0, 0, 0
  while checked < budget and ended < limit and moves <= 3 do
    local k = math.min(budget - checked, 100)
    local ids, after = {}, {}
    if set == 'p' then
      if entrants > 0 then
        pos = math.max(pos, d.head - 1)
        for i, mem in ipairs(redis.call('ZRANGE', K_PRE, pos, pos + k - 1)) do
          ids[i], after[i] = string.sub(mem, 33), pos + i
        end
      end
    else
      local r = redis.call('ZRANGEBYSCORE', set == 'k' and K_SKIP or K_WAIT, '(' .. I(pos), '+inf',
                           'WITHSCORES', 'LIMIT', 0, k)
      for i = 1, #r, 2 do
        ids[#ids + 1], after[#after + 1] = r[i], tonumber(r[i + 1])
      end
    end
    if #ids == 0 then
      if set == 'w' then n = waiting - ended end  -- a new pass
      set, pos, moves = SWEEP_NEXT[set], 0, moves + 1
    else
      local recs = redis.call('HMGET', K_LIVE, unpack(ids))
      for i, id in ipairs(ids) do
        -- (Only last seen is read - joined + distance - unless the ticket is to be ended: the
        -- walk's cost is this match.)
        local v, past = recs[i], false
        if v then
          local j, sd = string.match(v, '^w %x+ (%x+) %x+ (%x+) ')
          past = j ~= nil and H(j) + H(sd) <= cutoff
        else
          local t = tlive(id)  -- (a ticket of the layout before)
          past = t ~= nil and t.state == 'waiting' and t.seen <= cutoff
        end
        if past then
          if ended >= limit then break end
          end_ticket(id, 'abandoned', now)
          ended = ended + 1
        end
        pos, checked = after[i], checked + 1
      end
    end
  end
  redis.call('HSET', K_META, 'swset', set, 'swpos', I(pos), 'swdue', F(math.max(0, due - checked)),
             'swms', I(last), 'swn', I(n))
  return ended
end

-- A ticket as RedisStore parses it (12 strings): id state reason order joined admitted expires
-- position seq entrant(1/0) place skip(1/0). A waiting skipper's position is 1 + the skippers
-- ahead of it; everyone else waits behind every waiting skipper. A waiting entrant has
-- position 0 and place 0 until the draw; after it, place = rank in the frozen `pre`, order =
-- base + place, and its position counts the waiting entrants ahead; a post-open ticket waits
-- behind every waiting entrant.
local function view(id)
  local t = tget(id) or {state = 'ended', reason = 'none', order = 0, joined = 0, admitted = 0,
                         expires = 0, ep = 0, dk = '', place = 0}
  local state, reason = effective(t.state, t.reason, t.ep)
  local entrant = t.dk ~= ''
  local order, place, pos = I(t.order), t.place, 0
  local skip = t.order >= SKIP_ORDER
  if state == 'waiting' and skip then
    local rank = redis.call('ZRANK', K_SKIP, id)
    if rank then pos = rank + 1 end
  elseif state == 'waiting' then
    local d = load_draw()
    if entrant then
      if d.state == 'drawn' then
        place = place_of(id, t.dk)
        order = I(d.base + place)
        pos = place - (d.head - 1) - redis.call('ZCOUNT', K_PGONE, d.head, place - 1)
        pos = pos + redis.call('ZCARD', K_SKIP)
      end
    else
      local rank = redis.call('ZRANK', K_WAIT, id)
      if rank then pos = redis.call('ZCARD', K_SKIP) + waiting_entrants(d) + rank + 1 end
    end
  elseif entrant and place == 0 and t.ep == current_epoch() then
    -- (An entrant admitted or ended after the draw has its place in its record; this is only
    -- reached for one that never had one fixed, e.g. ended before the draw: not in `pre`.)
    if load_draw().state == 'drawn' then place = place_of(id, t.dk) end
  end
  return {id, state, reason, order, I(t.joined), I(t.admitted), I(t.expires), I(pos),
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
    local t = tlive(id)
    if t and t.state == 'waiting' then end_ticket(id, 'closed', now, t) end
  end
  local cursor = redis.call('HGET', K_DRAW, 'cdrain')
  if cursor and cursor ~= 'done' and queue_closed() then
    local c = tonumber(cursor)
    local members = redis.call('ZRANGE', K_PRE, c, c + limit - 1)
    for _, m in ipairs(members) do
      local id = string.sub(m, 33)
      local t = tlive(id)
    if t and t.state == 'waiting' then end_ticket(id, 'closed', now, t) end
    end
    redis.call('HSET', K_DRAW, 'cdrain', #members < limit and 'done' or I(c + #members))
  end
  local members = redis.call('ZRANGE', K_CLOSING_PRE, 0, limit - 1)
  for _, m in ipairs(members) do
    redis.call('ZREM', K_CLOSING_PRE, m)
    local id = string.sub(m, 33)
    local t = tlive(id)
    if t and t.state == 'waiting' then end_ticket(id, 'closed', now, t) end
  end
end

-- Closes the queue (O(1) whatever the length of the line): the line is moved aside (RENAME)
-- and the epoch bumped, which ends every waiting ticket in it at once for all readers
-- (effective); the bookkeeping is drained `batch` at a time (drain_closed). A pre-queue that
-- never drew is void. Returns true if it closed the queue now (the caller then takes the name
-- out of aq:queues:open: RedisStore).
local function close(now, batch)
  if queue_closed() then return false end
  redis.call('HSET', K_META, 'closed', '1', 'closed_ms', I(now))
  redis.call('HINCRBY', K_META, 'epoch', 1)
  -- (A union only if closed again before the previous close was drained: close, reopen, close.)
  if redis.call('EXISTS', K_WAIT) == 1 then set_aside(K_WAIT, K_CLOSING) end
  if redis.call('EXISTS', K_SKIP) == 1 then set_aside(K_SKIP, K_CLOSING) end
  if not CLUSTER then redis.call('UNLINK', K_SEEN) end  -- (the layout before: see migrate)
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
        local t = tlive(id)
        oldest = t and I(t.joined) or '0'
        break
      end
    end
  elseif line > 0 then
    local head = redis.call('ZRANGE', K_WAIT, 0, 0)
    local t = tlive(head[1])
    oldest = t and I(t.joined) or '0'
  end
  if skippers > 0 then
    local sk = redis.call('ZRANGE', K_SKIP, 0, 0)
    local t = tlive(sk[1])
    local j = t and I(t.joined) or '0'
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
-- of the queue (the caller takes its name out of the queue lists: RedisStore), except:
-- - K_LAST_SEQ, written here: a queue made again under the name continues its seq (put_queue);
-- - the outbox: Kafka has confirmed all of it (outbox_relayed), but the tailers may not have
--   read its last events yet, so it expires RETENTION_MS later instead (put_queue keeps it if
--   the queue is made again first);
-- - the ended hashes: every ticket has ended (none active, none waiting: K_LIVE is empty), and
--   visitors may still GET theirs, so they expire RETENTION_MS later (put_queue keeps them if
--   the queue is made again first: its ended tickets stay readable);
-- - the used proof-of-work challenges: they expire with the last of them (PEXPIREAT its
--   expiry), as a challenge could still be used in a queue made again meanwhile.
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
  if not CLUSTER then redis.call('UNLINK', K_SEEN) end  -- (the layout before: see migrate)
  redis.call('UNLINK', K_META, K_CFG, K_WAIT, K_ACTIVE, K_LIVE, K_DEDUPE, K_CLOSING, K_PRE,
             K_PGONE, K_DRAW, K_SKIP, K_INV, K_INVS)
  redis.call('PEXPIRE', K_OUTBOX, RETENTION_MS)
  redis.call('PEXPIRE', K_ENDED0, RETENTION_MS)
  redis.call('PEXPIRE', K_ENDED1, RETENTION_MS)
  local last_pow = redis.call('ZRANGE', K_POW, -1, -1, 'WITHSCORES')
  if last_pow[2] then redis.call('PEXPIREAT', K_POW, last_pow[2]) end
  return true
end
