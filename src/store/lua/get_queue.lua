-- Queue info at one seq. ARGV: none.
if not queue_exists() then return {'queue_not_found'} end
return {'ok', info()}
