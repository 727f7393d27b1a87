-- Queue info at one seq, and its version (put_queue.lua's compare-and-set). ARGV: none.
if not queue_exists() then return {'queue_not_found'} end
return {'ok', info(), version(), I(load_draw().head)}
