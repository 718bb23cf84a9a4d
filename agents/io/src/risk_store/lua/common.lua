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

-- A new UTC day resets the daily PnL and the day's order count; the marked daily PnL (realized
-- today plus unrealized) counts from the unrealized PnL now.
local function roll_day(state, now)
  local day = math.floor(now / 86400000)
  if hnum(state, 'day') ~= day then
    local u = fmt(hnum(state, 'unrealized'))
    redis.call('HSET', state, 'day', fmt(day), 'daily_pnl', '0', 'daily_base', u, 'day_unrealized', u,
      'day_orders', '0')
  end
end

-- The trip rules (as RiskState::update_trip): a trip past its cooldown clears, with the marked
-- daily PnL and the marked equity as the new baselines; without a trip, a daily loss or a
-- drawdown past its limit trips (daily loss first). v: trip, since, cooldown, base, daily,
-- equity, peak, unrl, max_loss, max_dd (base and peak updated in place). The state hash is written
-- through put(field, value, ...) and bump(field) (adds one). Returns the trip in force ('' for none).
local function trip_rules(now, v, put, bump)
  local trip = v.trip
  if trip ~= '' and v.cooldown > 0 and now >= v.since + v.cooldown then
    trip, v.base, v.peak = '', v.daily + v.unrl, v.equity + v.unrl
    put('trip', '', 'daily_base', fmt(v.base), 'peak', fmt(v.peak))
  end
  if trip == '' then
    if v.base - (v.daily + v.unrl) >= v.max_loss then
      trip = 'daily_loss'
    elseif v.peak - (v.equity + v.unrl) >= v.max_dd then
      trip = 'drawdown'
    end
    if trip ~= '' then
      put('trip', trip, 'trip_since', fmt(now))
      bump('trips_' .. trip)
    end
  end
  return trip
end
