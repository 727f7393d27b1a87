-- Each ticket's place in the draw, 0 if it is not a drawn entrant of this epoch: {'ok', place,
-- ...} in ARGV order. ARGV: ticket ids (the caller sends at most kPlacesChunk = 250: a few ms
-- at 1M entrants).
if not queue_exists() then return {'queue_not_found'} end
local out = {'ok'}
local drawn = load_draw().state == 'drawn'
local epoch = current_epoch()
for i = 1, #ARGV do
  local place = 0
  if drawn then
    local t = tget(ARGV[i])
    if t and t.dk ~= '' and t.ep == epoch then place = place_of(ARGV[i], t.dk) end
  end
  out[#out + 1] = place
end
return out
