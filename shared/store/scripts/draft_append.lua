-- Log one draft update and announce it to the other machines' replicas, in one round trip;
-- with a base, also record the document as it matches GitHub now, in the same step (a
-- merge of GitHub's change and its new base are one fact: recorded apart, a crash between
-- them would make the next merge repeat the change).
-- KEYS[1] the draft's log   KEYS[2] the draft's hash
-- ARGV[1] the update (base64)   ARGV[2] machine id   ARGV[3] ms to keep the draft
-- ARGV[4] the replicas' channel   ARGV[5] "<repository id> <number>"
-- ARGV[6] the new base (base64, or "" for none)   ARGV[7] its GitHub updated_at
local id = redis.call('XADD', KEYS[1], '*', 'u', ARGV[1], 'm', ARGV[2])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[2], 'base', ARGV[6], 'base_at', ARGV[7])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. id .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
return id
