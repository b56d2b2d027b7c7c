-- Admit one request at three scopes, all or nothing. Mirrors InProcessStore::admit.
-- KEYS: for each scope (invocation, session, tenant): totals hash, rate window hash,
--       live leases zset; then the tenant's lease sequence.
-- ARGV: now, lease_ttl, idle_ttl, window, bucket width, the bucket of now, the oldest bucket
--       still counting, the most buckets that count at once (all computed in window.rs);
--       then per scope: requests limit, rate limit, concurrency limit, wall clock limit,
--       wall clock start (-1: none).
-- The rate window hash holds bucket -> admissions, 'n' (their sum) and 'lo' (the oldest
-- bucket it may hold); a bucket counts until bucket * width + window.
-- Returns {0, budget, scope, limit, used, retry_ms, ...} when refused (budget codes:
-- 1 requests, 2 concurrency, 3 rate, 4 wall clock; retry -1: none), or
-- {1, lease, then per scope: requests, bytes_out, bytes_in, tool_calls, in_flight,
-- in_window, elapsed_ms}.
local now = tonumber(ARGV[1])
local lease_ttl = tonumber(ARGV[2])
local idle = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local width = tonumber(ARGV[5])
local bucket = tonumber(ARGV[6])
local first = tonumber(ARGV[7])
local slots = tonumber(ARGV[8])

local refused = {}
local function refuse(budget, scope, limit, used, retry)
  for _, v in ipairs({budget, scope, limit, used, retry}) do
    refused[#refused + 1] = v
  end
end

local function drop_bucket(win, field)
  local v = tonumber(redis.call('HGET', win, field))
  if v then
    redis.call('HDEL', win, field)
    redis.call('HINCRBY', win, 'n', -v)
  end
end

-- Drops the buckets that stopped counting: each once, and at most `slots` steps (after a
-- long idle gap, the buckets present are looked at instead of every number in between).
local function advance(win)
  local lo = tonumber(redis.call('HGET', win, 'lo'))
  if not lo or lo >= first then return end
  if first - lo > slots then
    for _, f in ipairs(redis.call('HKEYS', win)) do
      local k = tonumber(f)
      if k and k < first then drop_bucket(win, f) end
    end
  else
    for k = lo, first - 1 do drop_bucket(win, k) end
  end
  redis.call('HSET', win, 'lo', first)
end

-- With the window full: how long until the bucket of the (used - limit + 1)-th oldest
-- admission leaves. Runs only on a refusal, over at most `slots` buckets.
local function retry_after(win, limit, used)
  local must_leave = used - limit + 1
  local all = redis.call('HGETALL', win)
  local buckets = {}
  for i = 1, #all, 2 do
    local k = tonumber(all[i])
    if k then buckets[#buckets + 1] = {k, tonumber(all[i + 1])} end
  end
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  local left = 0
  for _, b in ipairs(buckets) do
    left = left + b[2]
    if left >= must_leave then return math.max(0, b[1] * width + window - now) end
  end
  return -1
end

local limits = {}
for s = 0, 2 do
  local tot, win, live = KEYS[s * 3 + 1], KEYS[s * 3 + 2], KEYS[s * 3 + 3]
  local b = 9 + s * 5
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

  if l.wall >= 0 and elapsed >= l.wall then refuse(4, s, l.wall, elapsed, -1) end
  if l.requests >= 0 and requests >= l.requests then refuse(1, s, l.requests, requests, -1) end
  if l.concurrency >= 0 and in_flight >= l.concurrency then
    refuse(2, s, l.concurrency, in_flight, -1)
  end
  if l.rate >= 0 then
    advance(win)
    local in_window = tonumber(redis.call('HGET', win, 'n')) or 0
    if in_window >= l.rate then
      local retry = -1
      if l.rate > 0 then retry = retry_after(win, l.rate, in_window) end
      refuse(3, s, l.rate, in_window, retry)
    end
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
  local in_window = 0
  if l.rate >= 0 then
    -- A replica whose clock is behind counts in the oldest bucket held: later, never shorter.
    local lo = tonumber(redis.call('HGET', win, 'lo'))
    local k = bucket
    if lo then
      if k < lo then k = lo end
    else
      redis.call('HSET', win, 'lo', first)
    end
    redis.call('HINCRBY', win, k, 1)
    in_window = redis.call('HINCRBY', win, 'n', 1)
    redis.call('PEXPIRE', win, window + width)
  end
  local h = redis.call('HMGET', tot, 'requests', 'bytes_out', 'bytes_in', 'tool_calls', 'started')
  local started = tonumber(h[5])
  if l.start >= 0 then started = l.start end
  for _, v in ipairs({
    tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0,
    redis.call('ZCARD', live), in_window, math.max(0, now - started),
  }) do
    out[#out + 1] = v
  end
end
return out
