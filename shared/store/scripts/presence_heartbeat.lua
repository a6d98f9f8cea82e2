-- A machine says it is alive: its heartbeat key, and a later expiry for every presence
-- entry it holds (XX: an entry swept or removed meanwhile is not brought back).
-- KEYS[1] the machine's heartbeat key  KEYS[2] the fleet's presence expiry set
-- ARGV[1] heartbeat TTL (ms)  ARGV[2] new expiry (Unix ms)  ARGV[3..] expiry members
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[i])
end
return #ARGV - 2
