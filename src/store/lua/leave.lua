-- Leaves the line (or the pre-queue) or gives the active slot back; an ended ticket is returned
-- as is. ARGV: now, ticket id. A due draw happens first.
local now, id = tonumber(ARGV[1]), ARGV[2]
if not queue_exists() then return {'queue_not_found'} end
settle_now(now)
local state = ticket_state(id)
if not state then return {'ticket_not_found'} end
if state ~= 'ended' then end_ticket(id, 'left', now) end
return {'ok', view(id)}
