-- Parks a failed event in the dead-letter stream and acknowledges it, as one step, only
-- if it is still pending: the event is never both lost and never parked twice.
-- KEYS[1] dead-letter stream   KEYS[2] event stream   KEYS[3] failure reasons (hash)
-- ARGV[1] group   ARGV[2] entry id   ARGV[3..] the entry's fields (name, value, ...)
if redis.call('XACK', KEYS[2], ARGV[1], ARGV[2]) == 0 then
  return 0
end
local reason = redis.call('HGET', KEYS[3], ARGV[2]) or 'unknown'
local fields = {'id', ARGV[2], 'group', ARGV[1], 'reason', reason}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
