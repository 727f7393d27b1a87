-- wrk: every request is a POST with no body (an anteroom join without a dedupe key; nginx
-- answers the same request with its static 200).
wrk.method = "POST"
