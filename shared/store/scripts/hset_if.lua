-- Set one field of a hash only while another still holds an expected value: a write that
-- must not resurrect, or overwrite, a hash someone else has since changed or deleted.
-- KEYS[1] the hash   ARGV[1] field to check   ARGV[2] its expected value
-- ARGV[3] field to set   ARGV[4] its value
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
  return 1
end
return 0
