-- include: bump
-- Appends one event: deduplicated, to the global stream and its repository's stream under
-- one id, remembering the names the repository has gone by, and marking the scopes it
-- changed stale. All or nothing, so a delivery is never marked seen without being stored
-- and applied, nor stored or applied twice.
-- KEYS[1] dedupe marker   KEYS[2] global stream   KEYS[3] repository stream
-- KEYS[4] the repository stream's first id ever   KEYS[5] the repository's names (a set)
-- KEYS[6] name -> repository id   KEYS[7..] scope versions to bump (may be none)
-- ARGV[1] dedupe TTL ms (0: no dedupe)   ARGV[2] global MAXLEN   ARGV[3] repository MAXLEN
-- ARGV[4] envelope JSON   ARGV[5] scopes JSON ('' for none)   ARGV[6] lower-case full name
-- ('' when the event has no repository)   ARGV[7] repository id   ARGV[8] index TTL ms
-- ARGV[9] now ms   ARGV[10] scope version TTL ms   ARGV[11] invalidation channel
-- Returns {'duplicate'} or {id, name, ...} (every name the repository has had).
if tonumber(ARGV[1]) > 0 then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
    return {'duplicate'}
  end
end
local fields = {'e', ARGV[4]}
if ARGV[5] ~= '' then
  fields[3] = 's'
  fields[4] = ARGV[5]
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
if #KEYS >= 7 then
  bump(KEYS, 7, tonumber(ARGV[9]), ARGV[10])
  redis.call('PUBLISH', ARGV[11], ARGV[5])
end
if ARGV[6] == '' then
  return {id}
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], id, unpack(fields))
redis.call('SET', KEYS[4], id, 'NX')
redis.call('SADD', KEYS[5], ARGV[6])
redis.call('PEXPIRE', KEYS[5], ARGV[8])
redis.call('SET', KEYS[6], ARGV[7], 'PX', ARGV[8])
local result = {id}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  result[#result + 1] = name
end
return result
