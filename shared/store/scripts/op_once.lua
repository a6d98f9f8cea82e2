-- Claim an operation id, or read what its first attempt answered: a retried mutation is
-- applied once.
-- KEYS[1] the op's key
-- ARGV[1] TTL (ms)
-- Returns false when claimed now, else the stored answer ('' while the first attempt runs).
if redis.call('SET', KEYS[1], '', 'NX', 'PX', ARGV[1]) then
  return false
end
return redis.call('GET', KEYS[1])
