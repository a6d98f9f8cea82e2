-- Put one socket's presence in a project and give it an expiry, in one step; how many
-- are present there now, and whether the entry is new (1) or replaced one (0).
-- KEYS[1] the project's presence hash  KEYS[2] the fleet's presence expiry set
-- ARGV[1] the socket's field  ARGV[2] its entry (JSON)  ARGV[3] its expiry member
-- ARGV[4] expiry (Unix ms)
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return {redis.call('HLEN', KEYS[1]), added}
