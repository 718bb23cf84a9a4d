-- Decides one intent (see polyfleet_core::risk for the rules and their order). Reads the limits
-- and the state with one HMGET each: every redis.call costs, and this runs once per order.
-- KEYS: limits, state, pos, resv, rate, decided(<coid>)
-- ARGV: coid, token, side (B|S), price ticks, size micros, book liquidity (-1: unknown), now ms
local limits, state, pos, resv, rate, decided = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local first = redis.call('GET', decided)
if first then return first end
local L = redis.call('HMGET', limits, 'kill_switch', 'max_order_size', 'max_order_notional',
  'max_position_per_market', 'max_gross_exposure', 'max_daily_loss', 'max_drawdown', 'max_orders_per_minute',
  'min_book_liquidity')
if not L[1] then return 'unknown_policy' end
local coid, token, side = ARGV[1], ARGV[2], ARGV[3]
local price, size, liquidity, now = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local S = redis.call('HMGET', state, 'day', 'daily_pnl', 'exposure', 'breaker_until', 'peak', 'equity')
local daily_pnl, exposure = num(S[2]), num(S[3])

-- A new UTC day resets the daily PnL (as roll_day does).
local day = math.floor(now / 86400000)
if num(S[1]) ~= day then
  redis.call('HSET', state, 'day', fmt(day), 'daily_pnl', '0')
  daily_pnl = 0
end
while true do
  local t = redis.call('LINDEX', rate, 0)
  if t and tonumber(t) + 60000 <= now then redis.call('LPOP', rate) else break end
end

local function verdict()
  if num(L[1]) == 1 then return 'kill_switch' end
  if now < num(S[4]) then return 'circuit_breaker' end
  if daily_pnl + num(L[6]) <= 0 then return 'daily_loss' end
  if num(S[5]) - num(S[6]) >= num(L[7]) then return 'drawdown' end
  if redis.call('LLEN', rate) >= num(L[8]) then return 'order_rate' end
  if size > num(L[2]) then return 'max_order_size' end
  local notional = notional_up(price, size)
  if notional > num(L[3]) then return 'max_order_notional' end
  local held = 0
  if side == 'B' then
    held = hnum(pos, token)
    if held + size > num(L[4]) then return 'max_position' end
  end
  local added = 0
  if side == 'B' then added = notional end
  if exposure + added > num(L[5]) then return 'gross_exposure' end
  local min_liquidity = num(L[9])
  if min_liquidity >= 0 and liquidity >= 0 and liquidity < min_liquidity then return 'book_liquidity' end
  -- Approved: reserve.
  redis.call('RPUSH', rate, fmt(now))
  if side == 'B' then
    redis.call('HSET', state, 'exposure', fmt(exposure + notional))
    redis.call('HSET', pos, token, fmt(held + size))
  end
  redis.call('HSET', resv, coid, token .. ' ' .. side .. ' ' .. fmt(price) .. ' ' .. fmt(size) .. ' ' .. fmt(added))
  return 'ok'
end

local v = verdict()
redis.call('SET', decided, v, 'PX', 86400000)
return v
