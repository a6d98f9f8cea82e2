-- A machine says it is alive: its heartbeat key, and every presence entry it holds put
-- back with a later expiry (so entries survive a Redis that restarted empty, and an entry
-- the sweeper took while this machine was cut off returns with its socket).
-- Each entry's hash is ARGV[3] .. project id: the projects are only known here.
-- KEYS[1] the machine's heartbeat key  KEYS[2] the fleet's presence expiry set
-- ARGV[1] heartbeat TTL (ms)  ARGV[2] new expiry (Unix ms)  ARGV[3] presence hash prefix
-- ARGV[4..] triples: project id, socket field, entry (JSON)
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
for i = 4, #ARGV, 3 do
  local project, field = ARGV[i], ARGV[i + 1]
  redis.call('HSET', ARGV[3] .. project, field, ARGV[i + 2])
  redis.call('ZADD', KEYS[2], ARGV[2], project .. '|' .. field)
end
return (#ARGV - 3) / 3
