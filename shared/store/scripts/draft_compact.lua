-- Replace a draft's snapshot by one that includes its log up to an id, and drop those log
-- entries, only while the caller still holds the compactor lease: a compactor that
-- stalled past its lease must not undo a newer compaction.
-- KEYS[1] the draft's hash   KEYS[2] its log   KEYS[3] the compactor lease
-- ARGV[1] lease owner   ARGV[2] the merged snapshot   ARGV[3] the last id it includes
-- ARGV[4] the first id to keep
if redis.call('GET', KEYS[3]) ~= ARGV[1] or redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'snapshot', ARGV[2], 'upto', ARGV[3])
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[4])
return 1
