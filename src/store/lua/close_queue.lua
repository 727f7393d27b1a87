-- Ends every waiting ticket (reason closed) and emits one `closed` event. ARGV: now.
-- O(waiting) in one script: closing is a rare operator action and must be atomic with its event.
local now = tonumber(ARGV[1])
if not queue_exists() then return {'queue_not_found'} end
if redis.call('HGET', K_META, 'closed') ~= '1' then
  redis.call('HSET', K_META, 'closed', '1')
  while true do
    local ids = redis.call('ZRANGE', K_WAIT, 0, 999)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do end_ticket(id, 'closed', now) end
  end
  emit('closed', '', 0, now, 0)
end
return {'ok', info()}
