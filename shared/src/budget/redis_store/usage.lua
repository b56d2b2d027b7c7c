-- Read the counters of three scopes without changing them. Mirrors InProcessStore::usage.
-- KEYS: as admit.lua, without the lease sequence.
-- ARGV: now, window, then the wall clock start of each scope (-1: none).
-- Returns per scope: requests, bytes_out, bytes_in, tool_calls, in_flight, in_window,
-- elapsed_ms.
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
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
    redis.call('ZCOUNT', win, '(' .. (now - window), '+inf'),
    elapsed,
  }) do
    out[#out + 1] = v
  end
end
return out
