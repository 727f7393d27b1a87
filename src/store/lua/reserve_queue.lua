-- Takes a place among the open queues before put_queue.lua creates or reopens a queue: the one
-- script on the global aq:queues:open (KEYS[1]) and nothing else, so it is single-slot under
-- Redis Cluster. Not composed with lib.lua (it touches no queue key). ARGV: name, max_queues.
-- Reply: 1 = added now (the caller removes it again if the put then fails), 0 = already there
-- (an open queue, or a reservation left by an earlier attempt), -1 = the limit is reached.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
