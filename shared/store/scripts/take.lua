-- Read a key and delete it in one step, so only one reader ever gets it (GETDEL, which
-- not every backend we speak to offers).
-- KEYS[1] the key
local value = redis.call('GET', KEYS[1])
if value then
  redis.call('DEL', KEYS[1])
end
return value
