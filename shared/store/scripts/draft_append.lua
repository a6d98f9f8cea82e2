-- Log one draft update and announce it to the other machines' replicas, in one round trip.
-- KEYS[1] the draft's log   KEYS[2] the draft's hash
-- ARGV[1] the update (base64)   ARGV[2] machine id   ARGV[3] ms to keep the draft
-- ARGV[4] the replicas' channel   ARGV[5] "<repository id> <number>"
local id = redis.call('XADD', KEYS[1], '*', 'u', ARGV[1], 'm', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. id .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
return id
