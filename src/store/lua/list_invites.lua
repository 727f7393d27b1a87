-- A page of the queue's invite codes in code order. ARGV: after (exclusive; '' = from the
-- start), limit. Reply: {'ok', code, record, code, record, ...} or {'queue_not_found'}.
if not queue_exists() then return {'queue_not_found'} end
local from = ARGV[1] == '' and '-' or '(' .. ARGV[1]
local codes = redis.call('ZRANGE', K_INVS, from, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {'ok'}
-- unpack() is bounded by the Lua C stack: at most 500 codes per HMGET.
for at = 1, #codes, 500 do
  local chunk = {}
  for i = at, math.min(at + 499, #codes) do chunk[#chunk + 1] = codes[i] end
  local recs = redis.call('HMGET', K_INV, unpack(chunk))
  for i, c in ipairs(chunk) do
    out[#out + 1] = c
    out[#out + 1] = recs[i] or ''
  end
end
return out
