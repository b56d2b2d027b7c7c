-- Count one tool call of a session if its budget allows. Mirrors
-- InProcessStore::admit_tool_call.
-- KEYS: the session's totals hash. ARGV: limit (-1: none), idle_ttl.
-- Returns {1, tool calls including this one} or {0, tool calls so far}.
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('HGET', KEYS[1], 'tool_calls')) or 0
if limit >= 0 and used >= limit then return {0, used} end
local now_used = redis.call('HINCRBY', KEYS[1], 'tool_calls', 1)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return {1, now_used}
