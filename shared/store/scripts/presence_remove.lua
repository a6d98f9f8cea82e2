-- Take one socket's presence out of a project; whether it was there, and how many remain.
-- KEYS[1] the project's presence hash  KEYS[2] the fleet's presence expiry set
-- ARGV[1] the socket's field  ARGV[2] its expiry member
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return {removed, redis.call('HLEN', KEYS[1])}
