-- Each ticket's place in the draw, 0 if it is not a drawn entrant of this epoch: {'ok', place,
-- ...} in ARGV order. ARGV: ticket ids (the caller sends at most 500: ~2 ms at 1M entrants).
if not queue_exists() then return {'queue_not_found'} end
local out = {'ok'}
local drawn = load_draw().state == 'drawn'
local epoch = current_epoch()
for i = 1, #ARGV do
  local place = 0
  if drawn then
    local t = redis.call('HMGET', tkey(ARGV[i]), 'dk', 'ep')
    if t[1] and t[1] ~= '' and (tonumber(t[2]) or 0) == epoch then place = place_of(ARGV[i], t[1]) end
  end
  out[#out + 1] = place
end
return out
