-- Release a lease only if we still own it, optionally keeping it a while longer.
-- KEYS[1] the lease   ARGV[1] owner id   ARGV[2] ms to keep it (0: delete now)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if tonumber(ARGV[2]) > 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  else
    redis.call('DEL', KEYS[1])
  end
  return 1
end
return 0
