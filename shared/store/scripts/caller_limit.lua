-- include: gcra
-- GCRA caller rate limit: one atomic step per request.
-- KEYS[1]  the caller's theoretical arrival time (microseconds)
-- ARGV[1]  emission interval in microseconds (window / limit)
-- ARGV[2]  window in microseconds (the burst tolerance: `limit` requests at once)
-- ARGV[3]  cost in units
-- ARGV[4]  "1": refuse when over the limit; "0": always debit (a surcharge after the fact)
-- ARGV[5]  the caller's clock in microseconds, used only where TIME is not allowed
-- Returns {allowed 0|1, remaining units, retry_after_ms, reset_ms}.
local now, tat = gcra_start(KEYS[1], ARGV[5])
local emission = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local new_tat = tat + emission * cost
local allow_at = new_tat - window
if ARGV[4] == '1' and allow_at > now then
  return {0, 0, math.ceil((allow_at - now) / 1000), math.ceil((tat - now) / 1000)}
end
local ttl_ms = math.max(1, math.ceil((new_tat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
local remaining = math.max(0, math.floor((window - (new_tat - now)) / emission))
return {1, remaining, 0, ttl_ms}
