-- A ticket with its position and the queue seq, read atomically; optionally marks it seen.
-- ARGV: now, ticket id, touch (1/0). A due draw happens first.
local now, id, touch = ARGV[1], ARGV[2], ARGV[3]
if not queue_exists() then return {'queue_not_found'} end
settle_now(tonumber(now))
local state = ticket_state(id)
if not state then return {'ticket_not_found'} end
-- Last seen never moves backwards (callers' clocks differ a little).
if touch == '1' and state == 'waiting' then
  local t = tlive(id)
  if tonumber(now) > t.seen then
    t.seen = tonumber(now)
    tput(id, t)
  end
end
return {'ok', view(id)}
