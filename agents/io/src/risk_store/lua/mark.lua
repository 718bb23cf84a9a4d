-- New marks for a strategy's whole book (the executor's periodic mark; as RiskState::revalue):
-- the UTC day rolls (the day counts from the marks before these), its unrealized PnL is
-- replaced, the peak follows the marked equity, and the
-- trip rules run when the policy has limits, so an open position losing value trips the daily
-- loss or drawdown without any order.
-- KEYS: limits, state, unrealized(<strategy>)
-- ARGV: now ms, n, then n x [token, unrealized micros]
local limits, state = KEYS[1], KEYS[2]
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
roll_day(state, now)
local unrl = set_marks(state, KEYS[3], 3, n, true)
local S = redis.call('HMGET', state, 'equity', 'peak', 'trip', 'trip_since', 'daily_base', 'daily_pnl')
local equity = num(S[1])
local peak = math.max(num(S[2]), equity + unrl)
redis.call('HSET', state, 'peak', fmt(peak))
local L = redis.call('HMGET', limits, 'max_daily_loss', 'max_drawdown', 'trip_cooldown_ms')
if L[1] then
  trip_rules(now, { trip = S[3] or '', since = num(S[4]), cooldown = num(L[3]), base = num(S[5]),
    daily = num(S[6]), equity = equity, peak = peak, unrl = unrl, max_loss = num(L[1]), max_dd = num(L[2]) },
    function(...) redis.call('HSET', state, ...) end, function(f) redis.call('HINCRBY', state, f, 1) end)
end
return 1
