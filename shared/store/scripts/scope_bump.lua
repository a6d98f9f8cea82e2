-- include: bump
-- KEYS: the scope version keys. ARGV[1]: now in ms; ARGV[2]: TTL in ms.
bump(KEYS, 1, tonumber(ARGV[1]), ARGV[2])
return #KEYS
