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

-- floor(ticks * micros / 10^4) exactly, likewise.
local function notional_down(ticks, micros)
  local q = math.floor(micros / 10000)
  local r = micros - q * 10000
  return ticks * q + math.floor(ticks * r / 10000)
end

-- A new UTC day resets the daily PnL, the baseline the daily loss counts from and the day's
-- order count.
local function roll_day(state, now)
  local day = math.floor(now / 86400000)
  if hnum(state, 'day') ~= day then
    redis.call('HSET', state, 'day', fmt(day), 'daily_pnl', '0', 'daily_base', '0', 'day_orders', '0')
  end
end
