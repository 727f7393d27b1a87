-- wrk: the flash crowd of bench/scale.sh — POST joins (no body); after CROWD_LIMIT answers the
-- thread stops and wrk is interrupted (SIGINT: it prints its figures at once rather than
-- sleeping out -d), so a crowd is a fixed number of joins, not a duration. Run with -t1.
wrk.method = "POST"
local limit = tonumber(os.getenv("CROWD_LIMIT") or "0") or 0
local count = 0
function response(status, headers, body)
  count = count + 1
  if limit > 0 and count == limit then
    wrk.thread:stop()
    -- (popen, not os.execute: system() ignores SIGINT while it runs) the shell's parent is wrk
    io.popen("kill -INT $PPID"):close()
  end
end
