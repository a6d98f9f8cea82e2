-- Rotate a session's refresh token, or revoke the session when an old one comes back.
-- KEYS[1] the session hash
-- ARGV[1] hash of the presented token   ARGV[2] hash of its successor
-- ARGV[3] session lifetime ms           ARGV[4] how many retired hashes to remember
-- Returns {"ok", uid, login, sealed token}, {"reused"}, {"invalid"} or {"unknown"}.
local current = redis.call('HGET', KEYS[1], 'rh')
if not current then
  return {'unknown'}
end
local retired = redis.call('HGET', KEYS[1], 'rp') or ''
if current ~= ARGV[1] then
  if string.find(retired, ARGV[1], 1, true) then
    -- A token already exchanged is back: someone holds a copy. End the whole family.
    redis.call('DEL', KEYS[1])
    return {'reused'}
  end
  return {'invalid'}
end
retired = current .. retired
local keep = tonumber(ARGV[4]) * string.len(current)
if string.len(retired) > keep then
  retired = string.sub(retired, 1, keep)
end
redis.call('HSET', KEYS[1], 'rh', ARGV[2], 'rp', retired)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local fields = redis.call('HMGET', KEYS[1], 'uid', 'login', 'gh')
return {'ok', fields[1], fields[2], fields[3]}
