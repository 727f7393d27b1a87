-- A ticket with its position and the queue seq, read atomically; optionally marks it seen.
-- ARGV: now, ticket id, touch (1/0). A due draw happens first.
local now, id, touch = ARGV[1], ARGV[2], ARGV[3]
if not queue_exists() then return {'queue_not_found'} end
settle_now(tonumber(now))
local state = ticket_state(id)
if not state then return {'ticket_not_found'} end
-- XX: only tickets still waiting are in the set; GT: last_seen never moves backwards.
if touch == '1' and state == 'waiting' then redis.call('ZADD', K_SEEN, 'XX', 'GT', now, id) end
return {'ok', view(id)}
