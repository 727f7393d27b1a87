-- wrk: POST joins (no body) spread round-robin over QUEUES queues named QUEUE_PREFIX0 ..
-- QUEUE_PREFIX<QUEUES-1> (bench/cluster.sh: 30 queues, their slots on every master). A refused
-- join (e.g. 503) shows in wrk's own "Non-2xx or 3xx responses" line.
local queues = tonumber(os.getenv("QUEUES") or "30") or 30
local prefix = os.getenv("QUEUE_PREFIX") or "b"
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/queues/" .. prefix .. (i % queues) .. "/tickets")
end
