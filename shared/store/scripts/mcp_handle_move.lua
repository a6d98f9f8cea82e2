-- An agent's handle is now served by another machine: rewrite its record, only if it still
-- exists (a leave elsewhere wins over a call racing it).
-- KEYS[1] the handle's record   ARGV[1] the new record   ARGV[2] its expiry in ms
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
