-- The risk decision script of the release before event, group and Kelly limits (commit 5137013:
-- common.lua, floor.lua, then decide.lua), kept only as the baseline of benches/risk_decide.rs.
-- Not loaded by the store.
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
-- equity, peak, unrl, max_loss, max_dd (base and peak updated in place). Returns the trip in force
-- ('' for none).
local function trip_rules(state, now, v)
  local trip = v.trip
  if trip ~= '' and v.cooldown > 0 and now >= v.since + v.cooldown then
    trip, v.base, v.peak = '', v.daily + v.unrl, v.equity + v.unrl
    redis.call('HSET', state, 'trip', '', 'daily_base', fmt(v.base), 'peak', fmt(v.peak))
  end
  if trip == '' then
    if v.base - (v.daily + v.unrl) >= v.max_loss then
      trip = 'daily_loss'
    elseif v.peak - (v.equity + v.unrl) >= v.max_dd then
      trip = 'drawdown'
    end
    if trip ~= '' then
      redis.call('HSET', state, 'trip', trip, 'trip_since', fmt(now))
      redis.call('HINCRBY', state, 'trips_' .. trip, 1)
    end
  end
  return trip
end

-- Worst-case bookkeeping shared by the decision and the scripts that move shares (after
-- common.lua).
-- The worst-case loss at resolution (polyfleet_core::risk::events), kept in the pos hash beside
-- the shares so the decision reads it with them: 't:' .. token -> "event index Y|N", or
-- '=' .. payout ticks once its market settled; 'e:' .. event -> the event's floor and the YES and
-- NO shares of each of its markets (the sum of its tokens' in pos), packed as below. state.floor is the sum of the events' floors and of the settled
-- tokens' (payout x shares, rounded down): the worst-case loss is exposure - floor. F holds the
-- keys state and pos.

-- An event entry is a MessagePack array (Redis's cmsgpack: an order of magnitude cheaper to
-- read and write than text here): {floor, markets, exhaustive (0|1), y0, n0, y1, n1, ...}, the
-- YES and NO shares of market i at 4 + 2i and 5 + 2i.
local function parse_event(entry) return cmsgpack.unpack(entry) end
local function format_event(ev) return cmsgpack.pack(ev) end

-- A new event's entry: nothing held.
local function new_event(markets, exhaustive)
  local ev = { 0, markets, exhaustive }
  for i = 0, markets - 1 do
    ev[4 + 2 * i], ev[5 + 2 * i] = 0, 0
  end
  return ev
end

-- The least an event's positions pay: every NO pays unless its market resolves YES, so the
-- payout is sum(no) + min over markets of (yes_i - no_i), and of 0 too when no market may
-- resolve YES.
local function event_floor(ev)
  local all_no, best = 0, nil
  if ev[3] == 0 then best = 0 end
  for i = 0, ev[2] - 1 do
    local y, n = ev[4 + 2 * i], ev[5 + 2 * i]
    all_no = all_no + n
    if best == nil or y - n < best then best = y - n end
  end
  return all_no + best
end

-- A place "event index Y|N" as its parts.
local function parse_place(place)
  local e, i, y = string.match(place, '^(%S+) (%d+) ([YN])$')
  return e, tonumber(i), y == 'Y'
end

-- Adds `by` shares of a token at market i (YES or not) to an event entry; a token recorded
-- past the event's markets counts for nothing.
local function add_shares(ev, i, yes, by)
  if i >= ev[2] then return end
  local k = 4 + 2 * i
  if not yes then k = k + 1 end
  ev[k] = ev[k] + by
end

-- Decides one intent, or the legs of a set as one (see polyfleet_core::risk, `check` and
-- `check_set`, for the rules and their order): every leg is approved and reserved, in leg order as
-- if decided one by one, or none is and nothing is written but the verdict. Reads the limits and
-- the state with one HMGET each: every redis.call costs, and this runs once per order.
-- KEYS: limits, state, pos, resv, rate, then decided(<coid>) per leg
-- ARGV: now ms, n, then n x [coid, token, side (B|S), price ticks, size micros,
--       book liquidity (-1: unknown), outcome ("event index Y|N markets exhaustive(0|1)" or -)]
local limits, state, pos, resv, rate = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local F = { state = state, pos = pos }
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local first = redis.call('GET', KEYS[6])
if first then return first end
local L = redis.call('HMGET', limits, 'mode', 'max_order_size', 'max_order_notional',
  'max_position_per_market', 'max_gross_exposure', 'max_daily_loss', 'max_drawdown', 'max_orders_per_minute',
  'min_book_liquidity', 'max_loss_at_resolution', 'trip_cooldown_ms', 'max_orders_per_day')
-- No limits: refused, and not remembered (limits written later make the same id decidable).
if not L[1] then return 'unknown_policy' end
local S = redis.call('HMGET', state, 'day', 'daily_pnl', 'exposure', 'breaker_until', 'peak', 'equity', 'floor',
  'daily_base', 'trip', 'trip_since', 'day_orders', 'unrealized')
local daily_pnl, exposure = num(S[2]), num(S[3])
local mode = num(L[1])

local function verdict()
  -- A new UTC day resets the daily PnL (as roll_day does).
  local day = math.floor(now / 86400000)
  local base, day_orders, unrl = num(S[8]), num(S[11]), num(S[12])
  if num(S[1]) ~= day then
    redis.call('HSET', state, 'day', fmt(day), 'daily_pnl', '0', 'daily_base', fmt(unrl), 'day_unrealized',
      fmt(unrl), 'day_orders', '0')
    daily_pnl, base, day_orders = 0, unrl, 0
  end
  -- -1 (or absent): no daily order limit.
  local max_day = -1
  if L[12] then max_day = tonumber(L[12]) end
  while true do
    local t = redis.call('LINDEX', rate, 0)
    if t and tonumber(t) + 60000 <= now then redis.call('LPOP', rate) else break end
  end
  local trip = trip_rules(state, now, { trip = S[9] or '', since = num(S[10]), cooldown = num(L[11]), base = base,
    daily = daily_pnl, equity = num(S[6]), peak = num(S[5]), unrl = unrl, max_loss = num(L[6]), max_dd = num(L[7]) })
  if mode == 2 then return 'kill_switch' end
  if now < num(S[4]) then return 'circuit_breaker' end
  local recent = redis.call('LLEN', rate)
  local min_liquidity = num(L[9])
  local added_total = 0
  local held_after = {}
  -- Each token's shares before the decision and its place in the worst-case bookkeeping (false:
  -- none), read together.
  local held_now, places = {}, {}
  local legs = {}
  for i = 0, n - 1 do
    local a = 3 + i * 7
    local coid, token, side = ARGV[a], ARGV[a + 1], ARGV[a + 2]
    local price, size, liquidity = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
    if side == 'B' then
      if mode == 1 then return 'reduce_only' end
      if trip ~= '' then return trip end
    end
    if recent + i >= num(L[8]) then return 'order_rate' end
    if max_day >= 0 and day_orders + i >= max_day then return 'daily_orders' end
    if size > num(L[2]) then return 'max_order_size' end
    local notional = notional_up(price, size)
    if notional > num(L[3]) then return 'max_order_notional' end
    local held = 0
    if side == 'B' then
      if held_now[token] == nil then
        local got = redis.call('HMGET', pos, token, 't:' .. token)
        held_now[token], places[token] = num(got[1]), got[2] or false
      end
      held = held_after[token] or held_now[token]
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
  -- The worst-case loss at resolution before and after the legs, their outcomes recorded (a
  -- token's first record stands): refused if they raise it above the limit. One more read (the
  -- events' entries) and one write.
  -- reg: 't:' .. token, place pairs recorded here; meta: token -> "markets exhaustive" of its
  -- outcome (for an event it creates).
  -- at: token -> {market index, yes} in its event; events: event -> its tokens here.
  local reg, meta, events, order, at, settled_delta = {}, {}, {}, {}, {}, 0
  for i = 0, n - 1 do
    local token, outcome = ARGV[4 + i * 7], ARGV[9 + i * 7]
    if places[token] == nil then
      local got = redis.call('HMGET', pos, token, 't:' .. token)
      held_now[token], places[token] = num(got[1]), got[2] or false
    end
    local place = places[token]
    if not place and outcome ~= '-' then
      local e, index, yes, markets, exhaustive = string.match(outcome, '^(%S+) (%d+) ([YN]) (%d+) ([01])$')
      place = e .. ' ' .. index .. ' ' .. yes
      places[token] = place
      reg[#reg + 1] = 't:' .. token
      reg[#reg + 1] = place
      meta[token] = markets .. ' ' .. exhaustive
    end
    if place and string.sub(place, 1, 1) ~= '=' and not at[token] then
      local e, i, yes = parse_place(place)
      at[token] = { i, yes }
      if not events[e] then
        events[e] = {}
        order[#order + 1] = e
      end
      local t = events[e]
      t[#t + 1] = token
    end
  end
  for token, after in pairs(held_after) do
    local place = places[token]
    if place and string.sub(place, 1, 1) == '=' then
      local ticks = tonumber(string.sub(place, 2))
      settled_delta = settled_delta + notional_down(ticks, after) - notional_down(ticks, held_now[token])
    end
  end
  local floor_before, floor_after = num(S[7]), num(S[7]) + settled_delta
  local writes = {}
  if #order > 0 then
    local q = {}
    for k, e in ipairs(order) do q[k] = 'e:' .. e end
    local got = redis.call('HMGET', pos, unpack(q))
    for k, e in ipairs(order) do
      local ev, stored
      if got[k] then
        ev = parse_event(got[k])
        stored = ev[1]
      else
        -- A new event: the markets and exhaustiveness of its first token's outcome.
        local markets, exhaustive = string.match(meta[events[e][1]], '^(%d+) ([01])$')
        ev = new_event(tonumber(markets), tonumber(exhaustive))
        stored = 0
      end
      -- Tokens recorded here bring the shares they already had; then the buys' shares.
      for _, token in ipairs(events[e]) do
        if meta[token] then add_shares(ev, at[token][1], at[token][2], held_now[token]) end
      end
      local f0 = event_floor(ev)
      for _, token in ipairs(events[e]) do
        if held_after[token] then add_shares(ev, at[token][1], at[token][2], held_after[token] - held_now[token]) end
      end
      local f1 = event_floor(ev)
      ev[1] = f1
      floor_before = floor_before - stored + f0
      floor_after = floor_after - stored + f1
      writes[#writes + 1] = 'e:' .. e
      writes[#writes + 1] = format_event(ev)
    end
  end
  local loss_before = exposure - floor_before
  local loss_after = exposure + added_total - floor_after
  -- -1 (or absent, limits written before the field existed): no limit.
  local max_loss = -1
  if L[10] then max_loss = tonumber(L[10]) end
  if max_loss >= 0 and loss_after > max_loss and loss_after > loss_before then return 'max_loss_at_resolution' end
  -- Every leg approved: record the outcomes and the floors, reserve them all.
  for k = 1, #reg, 2 do
    writes[#writes + 1] = reg[k]
    writes[#writes + 1] = reg[k + 1]
  end
  for _, leg in ipairs(legs) do
    local coid, reservation = string.match(leg, '^([^\n]+)\n(.+)$')
    redis.call('RPUSH', rate, fmt(now))
    redis.call('HSET', resv, coid, reservation)
  end
  for token, held in pairs(held_after) do
    writes[#writes + 1] = token
    writes[#writes + 1] = fmt(held)
  end
  if #writes > 0 then redis.call('HSET', pos, unpack(writes)) end
  local sw = { 'day_orders', fmt(day_orders + n) }
  if floor_after ~= num(S[7]) then
    sw[3], sw[4], sw[5], sw[6] = 'exposure', fmt(exposure + added_total), 'floor', fmt(floor_after)
  elseif next(held_after) then
    sw[3], sw[4] = 'exposure', fmt(exposure + added_total)
  end
  redis.call('HSET', state, unpack(sw))
  return 'ok'
end

local v = verdict()
for i = 6, 5 + n do redis.call('SET', KEYS[i], v, 'PX', 86400000) end
return v
