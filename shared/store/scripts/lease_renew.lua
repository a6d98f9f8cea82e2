-- Extend a lease only if we still own it.
-- KEYS[1] the lease   ARGV[1] owner id   ARGV[2] ms from now
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
