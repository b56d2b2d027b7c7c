-- Admit one request at three scopes, all or nothing. Mirrors InProcessStore::admit.
-- KEYS: for each scope (invocation, session, tenant): totals hash, rate window zset,
--       live leases zset; then the tenant's lease sequence.
-- ARGV: now, lease_ttl, idle_ttl, window; then per scope: requests limit, rate limit,
--       concurrency limit, wall clock limit, wall clock start (-1: none).
-- Returns {0, budget, scope, limit, used, retry_ms, ...} when refused (budget codes:
-- 1 requests, 2 concurrency, 3 rate, 4 wall clock; retry -1: none), or
-- {1, lease, then per scope: requests, bytes_out, bytes_in, tool_calls, in_flight,
-- in_window, elapsed_ms}.
local now = tonumber(ARGV[1])
local lease_ttl = tonumber(ARGV[2])
local idle = tonumber(ARGV[3])
local window = tonumber(ARGV[4])

local refused = {}
local function refuse(budget, scope, limit, used, retry)
  for _, v in ipairs({budget, scope, limit, used, retry}) do
    refused[#refused + 1] = v
  end
end

local limits = {}
for s = 0, 2 do
  local tot, win, live = KEYS[s * 3 + 1], KEYS[s * 3 + 2], KEYS[s * 3 + 3]
  local b = 5 + s * 5
  local l = {
    requests = tonumber(ARGV[b]), rate = tonumber(ARGV[b + 1]),
    concurrency = tonumber(ARGV[b + 2]), wall = tonumber(ARGV[b + 3]),
    start = tonumber(ARGV[b + 4]),
  }
  limits[s] = l
  local h = redis.call('HMGET', tot, 'requests', 'started')
  local requests = tonumber(h[1]) or 0
  local started = tonumber(h[2]) or now
  if l.start >= 0 then started = l.start end
  local elapsed = math.max(0, now - started)
  redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
  local in_flight = redis.call('ZCARD', live)
  redis.call('ZREMRANGEBYSCORE', win, '-inf', now - window)
  local in_window = redis.call('ZCARD', win)

  if l.wall >= 0 and elapsed >= l.wall then refuse(4, s, l.wall, elapsed, -1) end
  if l.requests >= 0 and requests >= l.requests then refuse(1, s, l.requests, requests, -1) end
  if l.concurrency >= 0 and in_flight >= l.concurrency then
    refuse(2, s, l.concurrency, in_flight, -1)
  end
  if l.rate >= 0 and in_window >= l.rate then
    local retry = -1
    if l.rate > 0 then
      local rank = in_window - l.rate
      local entry = redis.call('ZRANGE', win, rank, rank, 'WITHSCORES')
      retry = math.max(0, tonumber(entry[2]) + window - now)
    end
    refuse(3, s, l.rate, in_window, retry)
  end
end

if #refused > 0 then
  table.insert(refused, 1, 0)
  return refused
end

local lease = redis.call('INCR', KEYS[10])
redis.call('PEXPIRE', KEYS[10], idle)
local out = {1, lease}
for s = 0, 2 do
  local tot, win, live = KEYS[s * 3 + 1], KEYS[s * 3 + 2], KEYS[s * 3 + 3]
  local l = limits[s]
  redis.call('HINCRBY', tot, 'requests', 1)
  redis.call('HSETNX', tot, 'started', now)
  redis.call('PEXPIRE', tot, idle)
  redis.call('ZADD', live, now + lease_ttl, lease)
  redis.call('PEXPIRE', live, idle)
  if l.rate >= 0 then
    redis.call('ZADD', win, now, lease)
    redis.call('PEXPIRE', win, window)
  end
  local h = redis.call('HMGET', tot, 'requests', 'bytes_out', 'bytes_in', 'tool_calls', 'started')
  local started = tonumber(h[5])
  if l.start >= 0 then started = l.start end
  local in_window = 0
  if l.rate >= 0 then in_window = redis.call('ZCARD', win) end
  for _, v in ipairs({
    tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0,
    redis.call('ZCARD', live), in_window, math.max(0, now - started),
  }) do
    out[#out + 1] = v
  end
end
return out
