-- Commits a market-lifecycle booking (a conditional-token operation or a settlement) once by its
-- id, atomically: exposure by the cost change (never below zero), each token's shares, realized
-- PnL into the daily PnL, equity and its peak (not the loss streak: no round trip), the
-- strategy's ledger positions, and a settlement's payouts (its tokens count at them from then on
-- in the worst-case loss). Returns 1 when applied, 0 when the id was committed before (nothing
-- changes).
-- The strategy's unrealized PnL the booking changed is set first (set_marks), as a commit does.
-- KEYS: state, pos, fills, ledger(<strategy>), settled, life (policy), life(<strategy>),
--       unrealized(<strategy>)
-- ARGV: id, now ms, cost micros, realized micros, market ('' unless a settlement), payouts, n,
--       then n x [token, share change micros, ledger position], then k, then k x [token,
--       unrealized micros], then m x [totals field, increment]
local state, pos, fills, ledger, settled = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, now, cost, realized = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local F = { state = state, pos = pos }
local market, payouts, n = ARGV[5], ARGV[6], tonumber(ARGV[7])
if redis.call('SADD', fills, id) == 0 then return 0 end
local k = tonumber(ARGV[8 + n * 3])
-- A new UTC day rolls before the marks (as RiskState::on_marks).
roll_day(state, now)
local unrl = hnum(state, 'unrealized')
if k > 0 then unrl = set_marks(state, KEYS[8], 9 + n * 3, k, false) end
redis.call('HSET', state, 'exposure', fmt(math.max(hnum(state, 'exposure') + cost, 0)))
-- The booking's event: its first token's (an operation's tokens are all one event's), as
-- RiskState::on_lifecycle.
local event
for i = 0, n - 1 do
  if event then break end
  event = place_event(redis.call('HGET', pos, 't:' .. ARGV[8 + i * 3]))
end
if not event and market ~= '' then
  for token in string.gmatch(payouts, '(%d+):%d+') do
    event = place_event(redis.call('HGET', pos, 't:' .. token))
    if event then break end
  end
end
expose_event(F, event, cost)
for i = 0, n - 1 do
  local a = 8 + i * 3
  local token, change, position = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
  local old = hnum(pos, token)
  set_pos(F, token, old, math.max(old + change, 0))
  redis.call('HSET', ledger, token, position)
end
if market ~= '' then
  for token, ticks in string.gmatch(payouts, '(%d+):(%d+)') do settle_token(F, token, ticks) end
end
roll_day(state, now)
local equity = hnum(state, 'equity') + realized
redis.call('HSET', state, 'daily_pnl', fmt(hnum(state, 'daily_pnl') + realized), 'equity', fmt(equity),
  'peak', fmt(math.max(hnum(state, 'peak'), equity + unrl)))
if market ~= '' then redis.call('HSET', settled, market, payouts) end
for a = 9 + n * 3 + 2 * k, #ARGV, 2 do
  local field, by = ARGV[a], tonumber(ARGV[a + 1])
  if by ~= 0 then
    redis.call('HINCRBY', KEYS[6], field, by)
    redis.call('HINCRBY', KEYS[7], field, by)
  end
end
return 1
