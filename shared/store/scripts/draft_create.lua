-- Create an issue draft unless one exists: two machines opening a new draft at once must
-- not both seed it (their texts would be inserted twice).
-- KEYS[1] the draft's hash   ARGV[1] seed update   ARGV[2] GitHub's updated_at
-- ARGV[3] ms to keep the draft
-- A hash without a snapshot (left by a write after it expired) is no draft: seed it.
if redis.call('HEXISTS', KEYS[1], 'snapshot') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'snapshot', ARGV[1], 'upto', '0-0', 'base', ARGV[1], 'base_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
