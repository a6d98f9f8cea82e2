-- Log draft updates and announce each to the other machines' replicas, in one round trip;
-- with a base, also record the document as it matches GitHub now, in the same step (a
-- merge of GitHub's change and its new base are one fact: recorded apart, a crash between
-- them would make the next merge repeat the change).
-- KEYS[1] the draft's log   KEYS[2] the draft's hash
-- ARGV[1] machine id   ARGV[2] ms to keep the draft   ARGV[3] the replicas' channel
-- ARGV[4] "<repository id> <number>"   ARGV[5] the new base (base64, or "" for none)
-- ARGV[6] its GitHub updated_at   ARGV[7...] the updates (base64), in order
-- Returns the updates' stream ids.
local ids = {}
for i = 7, #ARGV do
  local id = redis.call('XADD', KEYS[1], '*', 'u', ARGV[i], 'm', ARGV[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4] .. ' ' .. id .. ' ' .. ARGV[i] .. ' ' .. ARGV[1])
  ids[#ids + 1] = id
end
-- A base never goes back: a retried call (its first reply lost) must not replace a newer
-- base another machine recorded meanwhile (ISO 8601 stamps compare as strings).
local current = redis.call('HGET', KEYS[2], 'base_at')
if ARGV[5] ~= '' and (not current or ARGV[6] >= current) then
  redis.call('HSET', KEYS[2], 'base', ARGV[5], 'base_at', ARGV[6])
  -- A save's pending write is settled once any base is recorded after it: left behind,
  -- it could pass for the base of a later, unrelated state of GitHub's.
  redis.call('HDEL', KEYS[2], 'pending', 'pending_values')
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return ids
