-- Ends an active session early. A waiting ticket cannot complete. ARGV: now, ticket id.
-- A due draw happens first.
local now, id = tonumber(ARGV[1]), ARGV[2]
if not queue_exists() then return {'queue_not_found'} end
settle_now(now)
local state = ticket_state(id)
if not state then return {'ticket_not_found'} end
if state == 'waiting' then return {'bad_request'} end
if state == 'active' then end_ticket(id, 'completed', now) end
return {'ok', view(id)}
