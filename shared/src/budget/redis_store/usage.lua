-- Read the counters of three scopes without changing them. Mirrors InProcessStore::usage.
-- KEYS: as admit.lua, without the lease sequence.
-- ARGV: now, the oldest rate bucket still counting, then the wall clock start of each scope
-- (-1: none).
-- Returns per scope: requests, bytes_out, bytes_in, tool_calls, in_flight, in_window,
-- elapsed_ms.
local now = tonumber(ARGV[1])
local first = tonumber(ARGV[2])

-- Admissions in the buckets still counting; at most as many buckets as admit.lua keeps.
local function in_window(win)
  local all = redis.call('HGETALL', win)
  local n = 0
  for i = 1, #all, 2 do
    local k = tonumber(all[i])
    if k and k >= first then n = n + tonumber(all[i + 1]) end
  end
  return n
end

local out = {}
for s = 0, 2 do
  local tot, win, live = KEYS[s * 3 + 1], KEYS[s * 3 + 2], KEYS[s * 3 + 3]
  local h = redis.call('HMGET', tot, 'requests', 'bytes_out', 'bytes_in', 'tool_calls', 'started')
  local started = tonumber(h[5])
  local hint = tonumber(ARGV[3 + s])
  if hint >= 0 then started = hint end
  local elapsed = 0
  if started then elapsed = math.max(0, now - started) end
  for _, v in ipairs({
    tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0,
    redis.call('ZCOUNT', live, '(' .. now, '+inf'),
    in_window(win),
    elapsed,
  }) do
    out[#out + 1] = v
  end
end
return out
