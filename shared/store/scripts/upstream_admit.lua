-- May this token call GitHub now? Checks its penalty boxes, then takes a concurrency slot.
-- KEYS[1]  token-wide penalty (secondary rate limit)
-- KEYS[2]  per-resource penalty (primary budget spent until reset)
-- KEYS[3]  sorted set of slots in use, scored by their expiry (ms)
-- KEYS[4]  optional: the single-flight lease to hold while calling (one round trip for both)
-- ARGV[1]  slot id   ARGV[2] slot capacity   ARGV[3] slot lease ms   ARGV[4] caller clock ms
-- ARGV[5]  flight lease owner   ARGV[6] flight lease ms
-- Returns {0, 0} admitted, {1, wait_ms} penalised, {2, wait_ms} every slot busy,
-- {3, 0} another call holds the flight lease.
local wait = math.max(redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]))
if wait > 0 then
  return {1, wait}
end
if KEYS[4] then
  local holder = redis.call('GET', KEYS[4])
  if holder and holder ~= ARGV[5] then
    return {3, 0}
  end
  if not holder then
    redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[6])
  end
end
local now
local t = redis.pcall('TIME')
if type(t) == 'table' and t[1] then
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[4])
end
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return {2, math.max(1, tonumber(first[2]) - now)}
end
redis.call('ZADD', KEYS[3], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[3], lease)
return {0, 0}
