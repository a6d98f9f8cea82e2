-- Marks scopes changed: each scope's version becomes the time of the change in ms, and
-- always grows, even when two machines' clocks disagree or two changes share a millisecond.
-- A version is both an identity (entries stamped with the old one are stale) and a time
-- (an answer GitHub gives just after a change may predate it: see proxy/scopes.py).
-- KEYS: the scope version keys. ARGV[1]: now in ms; ARGV[2]: TTL in ms.
local now = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local old = tonumber(redis.call('GET', key)) or 0
  local version = math.max(old + 1, now)
  redis.call('SET', key, string.format('%d', version), 'PX', ARGV[2])
end
return #KEYS
