-- wrk: the flash crowd of bench/scale.sh — POST joins (no body); after CROWD_LIMIT answers the
-- thread stops sending (run with -t1: one limit per process). bench/scale.sh interrupts every
-- wrk (SIGINT: it prints its figures at once) once the queue has counted the whole crowd, so a
-- crowd is a fixed number of joins, not a duration.
wrk.method = "POST"
local limit = tonumber(os.getenv("CROWD_LIMIT") or "0") or 0
local count = 0
function response(status, headers, body)
  count = count + 1
  if limit > 0 and count == limit then wrk.thread:stop() end
end
