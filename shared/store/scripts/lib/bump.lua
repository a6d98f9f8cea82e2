-- Marks scopes changed: each scope's version becomes the time of the change in ms, and
-- always grows, even when two machines' clocks disagree or two changes share a millisecond.
-- A version is both an identity (entries stamped with the old one are stale) and a time
-- (an answer GitHub gives just after a change may predate it: see proxy/scopes.py).
local function bump(keys, first, now, ttl_ms)
  for i = first, #keys do
    local old = tonumber(redis.call('GET', keys[i])) or 0
    local version = math.max(old + 1, now)
    redis.call('SET', keys[i], string.format('%d', version), 'PX', ttl_ms)
  end
end
