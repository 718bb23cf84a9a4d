-- The risk decision script of the release before maxLossAtResolution (commit fc95e21: common.lua then
-- decide.lua), kept only as the baseline of benches/risk_decide.rs. Not loaded by the store.
-- Shared helpers, prepended to every polyfleet risk script. Numbers are Lua doubles: every
-- amount stays below 2^53 micros and every time is in milliseconds, so all arithmetic here is
-- exact; values are written back through fmt() because Redis would format a number with %.14g.
local function fmt(x) return string.format('%d', x) end
local function num(v) if v then return tonumber(v) end return 0 end
local function hnum(key, field) return num(redis.call('HGET', key, field)) end

-- ceil(ticks * micros / 10^4) exactly: split the size so no product exceeds 2^53.
local function notional_up(ticks, micros)
  local q = math.floor(micros / 10000)
  local r = micros - q * 10000
  return ticks * q + math.floor((ticks * r + 9999) / 10000)
end

-- A new UTC day resets the daily PnL.
local function roll_day(state, now)
  local day = math.floor(now / 86400000)
  if hnum(state, 'day') ~= day then
    redis.call('HSET', state, 'day', fmt(day), 'daily_pnl', '0')
  end
end

-- Gives back what an order still holds. Reservation: "token side limit size notional".
local function release(state, pos, resv, coid)
  local r = redis.call('HGET', resv, coid)
  if not r then return end
  local token, side, _, size, notional = string.match(r, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  local exposure = math.max(hnum(state, 'exposure') - tonumber(notional), 0)
  redis.call('HSET', state, 'exposure', fmt(exposure))
  if side == 'B' then
    local p = math.max(hnum(pos, token) - tonumber(size), 0)
    redis.call('HSET', pos, token, fmt(p))
  end
  redis.call('HDEL', resv, coid)
end

-- Decides one intent, or the legs of a set as one (see polyfleet_core::risk, `check` and
-- `check_set`, for the rules and their order): every leg is approved and reserved, in leg order as
-- if decided one by one, or none is and nothing is written but the verdict. Reads the limits and
-- the state with one HMGET each: every redis.call costs, and this runs once per order.
-- KEYS: limits, state, pos, resv, rate, then decided(<coid>) per leg
-- ARGV: now ms, n, then n x [coid, token, side (B|S), price ticks, size micros,
--       book liquidity (-1: unknown)]
local limits, state, pos, resv, rate = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local first = redis.call('GET', KEYS[6])
if first then return first end
local L = redis.call('HMGET', limits, 'kill_switch', 'max_order_size', 'max_order_notional',
  'max_position_per_market', 'max_gross_exposure', 'max_daily_loss', 'max_drawdown', 'max_orders_per_minute',
  'min_book_liquidity')
-- No limits: refused, and not remembered (limits written later make the same id decidable).
if not L[1] then return 'unknown_policy' end
local S = redis.call('HMGET', state, 'day', 'daily_pnl', 'exposure', 'breaker_until', 'peak', 'equity')
local daily_pnl, exposure = num(S[2]), num(S[3])

local function verdict()
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
  if num(L[1]) == 1 then return 'kill_switch' end
  if now < num(S[4]) then return 'circuit_breaker' end
  if daily_pnl + num(L[6]) <= 0 then return 'daily_loss' end
  if num(S[5]) - num(S[6]) >= num(L[7]) then return 'drawdown' end
  local recent = redis.call('LLEN', rate)
  local min_liquidity = num(L[9])
  local added_total = 0
  local held_after = {}
  local legs = {}
  for i = 0, n - 1 do
    local a = 3 + i * 6
    local coid, token, side = ARGV[a], ARGV[a + 1], ARGV[a + 2]
    local price, size, liquidity = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
    if recent + i >= num(L[8]) then return 'order_rate' end
    if size > num(L[2]) then return 'max_order_size' end
    local notional = notional_up(price, size)
    if notional > num(L[3]) then return 'max_order_notional' end
    local held = 0
    if side == 'B' then
      held = held_after[token] or hnum(pos, token)
      if held + size > num(L[4]) then return 'max_position' end
    end
    local added = 0
    if side == 'B' then added = notional end
    if exposure + added_total + added > num(L[5]) then return 'gross_exposure' end
    if min_liquidity >= 0 and liquidity >= 0 and liquidity < min_liquidity then return 'book_liquidity' end
    if side == 'B' then held_after[token] = held + size end
    added_total = added_total + added
    legs[#legs + 1] = coid .. '\n' .. token .. ' ' .. side .. ' ' .. fmt(price) .. ' ' .. fmt(size) .. ' ' .. fmt(added)
  end
  -- Every leg approved: reserve them all.
  for _, leg in ipairs(legs) do
    local coid, reservation = string.match(leg, '^([^\n]+)\n(.+)$')
    redis.call('RPUSH', rate, fmt(now))
    redis.call('HSET', resv, coid, reservation)
  end
  if next(held_after) then
    redis.call('HSET', state, 'exposure', fmt(exposure + added_total))
    for token, held in pairs(held_after) do redis.call('HSET', pos, token, fmt(held)) end
  end
  return 'ok'
end

local v = verdict()
for i = 6, 5 + n do redis.call('SET', KEYS[i], v, 'PX', 86400000) end
return v
