-- Remove presence entries whose expiry passed (their machine stopped heartbeating), at
-- most ARGV[2] of them; for each: project id, socket field, its entry, how many remain.
-- Members read "<project id>|<field>"; a project's hash is ARGV[3] .. project id. The
-- key is built here because the expired members are only known here (no cluster mode).
-- KEYS[1] the fleet's presence expiry set
-- ARGV[1] now (Unix ms)  ARGV[2] batch size  ARGV[3] presence hash prefix
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, member in ipairs(expired) do
  local bar = string.find(member, '|', 1, true)
  if bar then
    local project = string.sub(member, 1, bar - 1)
    local field = string.sub(member, bar + 1)
    local hash = ARGV[3] .. project
    local entry = redis.call('HGET', hash, field)
    redis.call('HDEL', hash, field)
    if entry then
      table.insert(out, project)
      table.insert(out, field)
      table.insert(out, entry)
      table.insert(out, redis.call('HLEN', hash))
    end
  end
  redis.call('ZREM', KEYS[1], member)
end
return out
