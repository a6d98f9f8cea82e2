-- The start of every GCRA step: the time (Redis's own clock where a script may read it,
-- else the caller's, in microseconds) and the caller's theoretical arrival time, never
-- in the past.
local function gcra_start(key, fallback_now)
  local now
  local t = redis.pcall('TIME')
  if type(t) == 'table' and t[1] then
    now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  else
    now = tonumber(fallback_now)
  end
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then
    tat = now
  end
  return now, tat
end
