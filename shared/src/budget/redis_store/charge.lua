-- Count bytes of one admitted request at three scopes. Mirrors InProcessStore::charge.
-- KEYS: totals hash of each scope (invocation, session, tenant), then live leases zset of
--       each scope.
-- ARGV: field (bytes_out or bytes_in), bytes, whole (1: all or nothing), lease, now,
--       lease_ttl, idle_ttl, then the limit of each scope (-1: none).
-- Returns {granted, binding scope (-1: none), its limit, its use before}.
local field = ARGV[1]
local bytes = tonumber(ARGV[2])
local whole = ARGV[3] == '1'
local lease = ARGV[4]
local now = tonumber(ARGV[5])
local lease_ttl = tonumber(ARGV[6])
local idle = tonumber(ARGV[7])

local granted, binding, binding_limit, binding_used = bytes, -1, 0, 0
for s = 0, 2 do
  local used = tonumber(redis.call('HGET', KEYS[s + 1], field)) or 0
  local limit = tonumber(ARGV[8 + s])
  if limit >= 0 then
    local left = math.max(0, limit - used)
    if left < granted then
      granted, binding, binding_limit, binding_used = left, s, limit, used
    end
  end
end
if whole and binding >= 0 then granted = 0 end

for s = 0, 2 do
  if granted > 0 then redis.call('HINCRBY', KEYS[s + 1], field, granted) end
  redis.call('PEXPIRE', KEYS[s + 1], idle)
  -- Bytes moving keep the lease alive: a long stream keeps its concurrency slot.
  redis.call('ZADD', KEYS[s + 4], 'XX', now + lease_ttl, lease)
end
return {granted, binding, binding_limit, binding_used}
