-- Decides one intent (see polyfleet_core::risk for the rules and their order).
-- KEYS: limits, state, pos, resv, rate, decided(<coid>)
-- ARGV: coid, token, side (B|S), price ticks, size micros, book liquidity (-1: unknown), now ms
local limits, state, pos, resv, rate, decided = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local first = redis.call('GET', decided)
if first then return first end
if redis.call('EXISTS', limits) == 0 then return 'unknown_policy' end
local coid, token, side = ARGV[1], ARGV[2], ARGV[3]
local price, size, liquidity, now = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

roll_day(state, now)
while true do
  local t = redis.call('LINDEX', rate, 0)
  if t and tonumber(t) + 60000 <= now then redis.call('LPOP', rate) else break end
end

local function verdict()
  if hnum(limits, 'kill_switch') == 1 then return 'kill_switch' end
  if now < hnum(state, 'breaker_until') then return 'circuit_breaker' end
  if hnum(state, 'daily_pnl') + hnum(limits, 'max_daily_loss') <= 0 then return 'daily_loss' end
  if hnum(state, 'peak') - hnum(state, 'equity') >= hnum(limits, 'max_drawdown') then return 'drawdown' end
  if redis.call('LLEN', rate) >= hnum(limits, 'max_orders_per_minute') then return 'order_rate' end
  if size > hnum(limits, 'max_order_size') then return 'max_order_size' end
  local notional = notional_up(price, size)
  if notional > hnum(limits, 'max_order_notional') then return 'max_order_notional' end
  local held = hnum(pos, token)
  if side == 'B' and held + size > hnum(limits, 'max_position_per_market') then return 'max_position' end
  local added = 0
  if side == 'B' then added = notional end
  if hnum(state, 'exposure') + added > hnum(limits, 'max_gross_exposure') then return 'gross_exposure' end
  local min_liquidity = hnum(limits, 'min_book_liquidity')
  if min_liquidity >= 0 and liquidity >= 0 and liquidity < min_liquidity then return 'book_liquidity' end
  -- Approved: reserve.
  redis.call('RPUSH', rate, fmt(now))
  if side == 'B' then
    redis.call('HSET', state, 'exposure', fmt(hnum(state, 'exposure') + notional))
    redis.call('HSET', pos, token, fmt(held + size))
  end
  redis.call('HSET', resv, coid, token .. ' ' .. side .. ' ' .. fmt(price) .. ' ' .. fmt(size) .. ' ' .. fmt(added))
  return 'ok'
end

local v = verdict()
redis.call('SET', decided, v, 'PX', 86400000)
return v
