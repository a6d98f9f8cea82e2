-- After a GitHub call: free the slot, remember the budget GitHub reported, set penalties.
-- KEYS[1] slots   KEYS[2] budget hash   KEYS[3] resource penalty   KEYS[4] token penalty
-- ARGV[1] slot id
-- ARGV[2] limit   ARGV[3] remaining   ARGV[4] reset (epoch s)   ARGV[5] budget ttl ms
--         (ARGV[2] empty when GitHub sent no x-ratelimit-* headers)
-- ARGV[6] resource penalty ms (0: none)   ARGV[7] token penalty ms (0: none)
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[2], 'limit', ARGV[2], 'remaining', ARGV[3], 'reset', ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
if tonumber(ARGV[6]) > 0 then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[6])
end
if tonumber(ARGV[7]) > 0 then
  redis.call('SET', KEYS[4], '1', 'PX', ARGV[7])
end
return 1
