-- Shared by every queue script: RedisStore loads each script as
--   <generated constants> .. lib.lua .. <script>.lua
-- The generated constants are RETENTION_MS (rules::kEndedRetentionMs).
--
-- KEYS[1..9] are the queue's keys (redis/keys.hpp, script_keys). Ticket hashes are not declared
-- keys (scripts find their ids in the sorted sets), but they carry the same {q} hash tag, so
-- they live in the queue's Cluster slot. Scripts that change the queue lists get them as
-- KEYS[10] (aq:queues) and KEYS[11] (aq:queues:open); nil in the others.
local K_META, K_CFG, K_WAIT, K_ACTIVE, K_SEEN, K_DEDUPE, K_OUTBOX, K_CLOSING, K_LAST_SEQ =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local K_QUEUES, K_OPEN = KEYS[10], KEYS[11]
local PREFIX = string.sub(K_META, 1, -5)  -- 'aq:{q}:' from 'aq:{q}:meta'
local QUEUE = string.sub(K_META, 5, -7)   -- 'q' from 'aq:{q}:meta' (redis_keys::queue_of)

-- Numbers are always written as explicit strings: Lua's own conversion would turn a large
-- integer into '1.7e+14' and round a double to 14 digits.
local function I(x) return string.format('%d', x) end
local function F(x) return string.format('%.17g', x) end

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
  redis.call('XADD', K_OUTBOX, '*', 'event',
             '{"queue":"' .. QUEUE .. '","seq":' .. I(seq) .. ',"type":"' .. type ..
             '","ticket":"' .. id .. '","order":' .. I(order) .. ',"at":' .. I(now) ..
             ',"exp":' .. I(exp) .. '}')
  return seq
end

local function load_cfg()
  local c = redis.call('HMGET', K_CFG, 'admit_per_s', 'max_active', 'session_ttl_s',
                       'abandon_after_s', 'paused')
  return {rate = tonumber(c[1]), max_active = tonumber(c[2]), ttl = tonumber(c[3]),
          abandon = tonumber(c[4]), paused = c[5] == '1'}
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
    n = math.floor(tokens + 1e-9)
    n = math.min(n, math.max(0, cfg.max_active - active), waiting)
    if n > 0 then
      tokens = tokens - n
    else
      n = 0
    end
  end
  redis.call('HSET', K_META, 'tokens', F(tokens), 'last_ms', I(last_ms))
  return n
end

local function admit(id, cfg, now)
  local k = tkey(id)
  local exp = now + cfg.ttl * 1000
  redis.call('ZREM', K_WAIT, id)
  redis.call('ZREM', K_SEEN, id)
  redis.call('HSET', k, 'state', 'active', 'admitted', I(now), 'expires', I(exp))
  redis.call('ZADD', K_ACTIVE, I(exp), id)
  redis.call('HINCRBY', K_META, 'admitted_total', 1)
  emit('admitted', id, tonumber(redis.call('HGET', k, 'order')), now, exp)
end

local END_TOTAL = {left = 'left_total', expired = 'expired_total',
                   completed = 'completed_total', abandoned = 'abandoned_total'}

-- Ends a waiting or active ticket. `why` is the event type, which is also the end reason.
-- Tickets ended by a queue close get no event of their own (one `closed` event covers them).
local function end_ticket(id, why, now)
  local k = tkey(id)
  local t = redis.call('HMGET', k, 'state', 'order', 'expires', 'key')
  redis.call('ZREM', K_WAIT, id)
  redis.call('ZREM', K_SEEN, id)
  redis.call('ZREM', K_ACTIVE, id)
  if not t[1] then return end  -- hash gone (only if someone deleted keys by hand)
  redis.call('HSET', k, 'state', 'ended', 'reason', why)
  redis.call('PEXPIRE', k, RETENTION_MS)
  local key = t[4]
  if key and key ~= '' and redis.call('HGET', K_DEDUPE, key) == id then
    redis.call('HDEL', K_DEDUPE, key)
  end
  if END_TOTAL[why] then redis.call('HINCRBY', K_META, END_TOTAL[why], 1) end
  if why ~= 'closed' then emit(why, id, tonumber(t[2]) or 0, now, tonumber(t[3]) or 0) end
end

-- A ticket as RedisStore parses it: id state reason order joined admitted expires position seq.
local function view(id)
  local t = redis.call('HMGET', tkey(id), 'state', 'reason', 'order', 'joined', 'admitted',
                       'expires', 'ep')
  local state, reason = effective(t[1] or 'ended', t[2] or 'none', t[7])
  local pos = 0
  if state == 'waiting' then
    local rank = redis.call('ZRANK', K_WAIT, id)
    if rank then pos = rank + 1 end
  end
  return {id, state, reason, t[3] or '0', t[4] or '0', t[5] or '0', t[6] or '0', I(pos),
          redis.call('HGET', K_META, 'seq')}
end

-- Finishes up to `limit` tickets of earlier closes (K_CLOSING): marks them ended, starts their
-- retention and frees their dedupe keys. Makes no events: the queue's `closed` event covers them.
local function drain_closed(limit, now)
  local ids = redis.call('ZRANGE', K_CLOSING, 0, limit - 1)
  for _, id in ipairs(ids) do
    redis.call('ZREM', K_CLOSING, id)
    if redis.call('HGET', tkey(id), 'state') == 'waiting' then end_ticket(id, 'closed', now) end
  end
end

-- Queue info as RedisStore parses it (16 strings): closed seq admitted_total abandoned_total
-- expired_total completed_total left_total admit_per_s max_active session_ttl_s
-- abandon_after_s paused target_url waiting active oldest_joined_ms.
local function info()
  local out = redis.call('HMGET', K_META, 'closed', 'seq', 'admitted_total', 'abandoned_total',
                         'expired_total', 'completed_total', 'left_total')
  for i = 1, 7 do out[i] = out[i] or '0' end
  local c = redis.call('HMGET', K_CFG, 'admit_per_s', 'max_active', 'session_ttl_s',
                       'abandon_after_s', 'paused', 'target_url', 'webhooks')
  for i = 1, 7 do out[#out + 1] = c[i] or '' end
  local waiting = redis.call('ZCARD', K_WAIT)
  local oldest = '0'
  if waiting > 0 then
    local head = redis.call('ZRANGE', K_WAIT, 0, 0)
    oldest = redis.call('HGET', tkey(head[1]), 'joined') or '0'
  end
  out[#out + 1] = I(waiting)
  out[#out + 1] = I(redis.call('ZCARD', K_ACTIVE))
  out[#out + 1] = oldest
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
-- - ticket hashes: every one has ended (none active, none waiting) and expires on its own.
-- Returns true if it forgot the queue.
local function forget_if_done(cfg, now)
  local m = redis.call('HMGET', K_META, 'closed', 'closed_ms', 'seq')
  if m[1] ~= '1' then return false end
  if redis.call('ZCARD', K_ACTIVE) > 0 or redis.call('EXISTS', K_CLOSING) == 1 then
    return false
  end
  -- (A queue closed before closed_ms was recorded counts as closed long ago.)
  if (tonumber(m[2]) or 0) + cfg.abandon * 1000 > now then return false end
  if not outbox_relayed() then return false end
  redis.call('SET', K_LAST_SEQ, m[3])
  redis.call('UNLINK', K_META, K_CFG, K_WAIT, K_ACTIVE, K_SEEN, K_DEDUPE, K_CLOSING)
  redis.call('PEXPIRE', K_OUTBOX, RETENTION_MS)
  redis.call('SREM', K_QUEUES, QUEUE)
  redis.call('SREM', K_OPEN, QUEUE)
  return true
end
