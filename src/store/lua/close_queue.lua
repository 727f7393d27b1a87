-- Ends every waiting ticket (reason closed) and emits one `closed` event. ARGV: now, batch.
-- A closed queue stops counting toward max_queues: RedisStore takes its name out of
-- aq:queues:open after this script (another slot). The tick forgets it once its sessions are
-- over (forget_if_done).
-- O(1) whatever the length of the line (lib.lua close); the per-ticket bookkeeping is drained
-- `batch` at a time, here and by every tick. A due draw happens first (a close at or after
-- opens_at closes a drawn queue); a pre-queue closed before its draw is void.
local now, batch = tonumber(ARGV[1]), tonumber(ARGV[2])
if not queue_exists() then return {'queue_not_found'} end
if not queue_closed() then settle(load_cfg(), now) end
close(now, batch)
drain_closed(batch, now)
return {'ok', info()}
