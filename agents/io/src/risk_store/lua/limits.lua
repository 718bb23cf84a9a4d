-- Writes a policy's limits (replacing every field) and applies a trip reset: a trip-reset counter
-- different from the last one applied clears a standing trip, the daily loss then counting from
-- today's marked PnL and the drawdown from the marked equity now (see polyfleet_core::risk::mode).
-- KEYS: limits, state
-- ARGV: reset counter, then field, value pairs
local limits, state = KEYS[1], KEYS[2]
redis.call('DEL', limits)
redis.call('HSET', limits, unpack(ARGV, 2))
local S = redis.call('HMGET', state, 'reset_seen', 'trip', 'daily_pnl', 'equity', 'unrealized')
if (S[1] or '0') ~= ARGV[1] then
  redis.call('HSET', state, 'reset_seen', ARGV[1])
  if S[2] and S[2] ~= '' then
    local u = tonumber(S[5] or '0')
    redis.call('HSET', state, 'trip', '', 'daily_base', string.format('%d', tonumber(S[3] or '0') + u),
      'peak', string.format('%d', tonumber(S[4] or '0') + u))
  end
end
