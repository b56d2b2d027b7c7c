-- The information budget of one invocation, shared by every replica (see
-- shared/src/detect/information.rs for how a request is priced).
-- KEYS[1] hosts  (set: the distinct hostnames the invocation has named)
-- KEYS[2] seen   (set: the pieces already sent to this destination)
-- KEYS[3] bits   (hash: destination -> bits charged)
-- ARGV: ttl_ms, host, host_named (0/1), distinct_limit (-1 none), destination,
--       bits_limit (-1 none), max_seen, then piece key, piece bits, ... (distinct keys)
-- Returns {0, total} charged, {1, count} too many hosts, {2, total} over the bits budget;
-- nothing is charged unless the answer is 0.
local ttl = tonumber(ARGV[1])
local host = ARGV[2]
local named = ARGV[3] == '1'
local host_limit = tonumber(ARGV[4])
local destination = ARGV[5]
local bits_limit = tonumber(ARGV[6])
local max_seen = tonumber(ARGV[7])

local new_host = named and redis.call('SISMEMBER', KEYS[1], host) == 0
if new_host and host_limit >= 0 then
  local hosts = redis.call('SCARD', KEYS[1])
  if hosts >= host_limit then
    return {1, tostring(hosts)}
  end
end

local cost = 0
local fresh = {}
for i = 8, #ARGV, 2 do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then
    cost = cost + tonumber(ARGV[i + 1])
    fresh[#fresh + 1] = ARGV[i]
  end
end
local total = tonumber(redis.call('HGET', KEYS[3], destination) or '0') + cost
if bits_limit >= 0 and total > bits_limit then
  return {2, tostring(total)}
end

-- Past max_seen pieces are charged every time instead of remembered: memory is bounded, and
-- nothing is ever sent for free.
local room = max_seen - redis.call('SCARD', KEYS[2])
for i = 1, math.min(#fresh, math.max(room, 0)) do
  redis.call('SADD', KEYS[2], fresh[i])
end
if cost > 0 then
  redis.call('HINCRBYFLOAT', KEYS[3], destination, tostring(cost))
end
if new_host then
  redis.call('SADD', KEYS[1], host)
end
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return {0, tostring(total)}
