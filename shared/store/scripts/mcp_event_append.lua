-- One message of an MCP session's stream, kept for a client that reconnects.
-- KEYS[1] the stream   ARGV[1] the message (JSON; empty for a priming event)
-- ARGV[2] how many the stream keeps (approximately)   ARGV[3] expiry in ms
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return id
