-- include: gcra
-- GCRA caller rate limit, taken in a batch: up to ARGV[3] units at once, for an instance
-- to spend locally. Units are debited here when taken, so instances together can never
-- admit more than the limit; a lease that expires unspent only under-admits.
-- KEYS[1]  the caller's theoretical arrival time (microseconds)
-- ARGV[1]  emission interval in microseconds (window / limit)
-- ARGV[2]  window in microseconds (the burst tolerance: `limit` requests at once)
-- ARGV[3]  units wanted
-- ARGV[4]  fewest units worth taking (the request's cost)
-- ARGV[5]  the caller's clock in microseconds, used only where TIME is not allowed
-- Returns {units taken (0: refused), remaining units, retry_after_ms, reset_ms}.
local now, tat = gcra_start(KEYS[1], ARGV[5])
local emission = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local minimum = tonumber(ARGV[4])
local available = math.floor((window - (tat - now)) / emission)
if available < minimum then
  local allow_at = tat + emission * minimum - window
  return {0, 0, math.ceil((allow_at - now) / 1000), math.ceil((tat - now) / 1000)}
end
local taken = math.min(tonumber(ARGV[3]), available)
local new_tat = tat + emission * taken
local ttl_ms = math.max(1, math.ceil((new_tat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
local remaining = math.max(0, math.floor((window - (new_tat - now)) / emission))
return {taken, remaining, 0, ttl_ms}
