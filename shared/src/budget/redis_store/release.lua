-- End one request: free its concurrency slot at three scopes and give back reserved body
-- bytes never sent. Refunds only where the lease was still live, so releasing twice is
-- harmless. Mirrors InProcessStore::release.
-- KEYS: totals hash of each scope, then live leases zset of each scope.
-- ARGV: lease, refund_out.
local lease = ARGV[1]
local refund = tonumber(ARGV[2])
for s = 0, 2 do
  if redis.call('ZREM', KEYS[s + 4], lease) == 1 and refund > 0 then
    local used = tonumber(redis.call('HGET', KEYS[s + 1], 'bytes_out')) or 0
    local back = math.min(used, refund)
    if back > 0 then redis.call('HINCRBY', KEYS[s + 1], 'bytes_out', -back) end
  end
end
return {1}
