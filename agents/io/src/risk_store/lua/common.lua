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

-- The worst-case loss at resolution (polyfleet_core::risk::events). F holds the keys: state, pos,
-- out (token -> its event's key, or '=' .. payout ticks once settled), ev (event -> entry
-- "markets exhaustive(0|1) token/index/Y|N ..."), evf (floor of each event, and of each settled
-- token under '=' .. token). state.floor is the sum of evf.

-- The least an event's positions pay: with yes_i and no_i the shares of market i, every NO pays
-- unless its market resolves YES, so the payout is sum(no) + min over markets of (yes_i - no_i),
-- and of 0 too when no market may resolve YES. extra: token -> shares instead of pos's.
local function event_floor(F, entry, extra)
  local it = string.gmatch(entry, '%S+')
  local markets, exhaustive = tonumber(it()), it()
  local toks, idx, yes = {}, {}, {}
  for item in it do
    local t, i, y = string.match(item, '^(.+)/(%d+)/([YN])$')
    if tonumber(i) < markets then
      toks[#toks + 1], idx[#idx + 1], yes[#yes + 1] = t, tonumber(i), y == 'Y'
    end
  end
  local held = {}
  if #toks > 0 then held = redis.call('HMGET', F.pos, unpack(toks)) end
  local y, n, all_no = {}, {}, 0
  for k = 1, #toks do
    local q = num(held[k])
    if extra and extra[toks[k]] then q = extra[toks[k]] end
    local i = idx[k]
    if yes[k] then
      y[i] = (y[i] or 0) + q
    else
      n[i] = (n[i] or 0) + q
      all_no = all_no + q
    end
  end
  local best = nil
  if exhaustive == '0' then best = 0 end
  for i = 0, markets - 1 do
    local d = (y[i] or 0) - (n[i] or 0)
    if best == nil or d < best then best = d end
  end
  return all_no + best
end

-- The evf field a token's floor is kept under (nil: never described).
local function floor_field(F, token)
  local place = redis.call('HGET', F.out, token)
  if not place then return nil end
  if string.sub(place, 1, 1) == '=' then return '=' .. token end
  return place
end

-- The floor of an evf field now (entry: the event's, when known; extra as for event_floor).
local function floor_of(F, field, entry, extra)
  if string.sub(field, 1, 1) == '=' then
    local token = string.sub(field, 2)
    local ticks = tonumber(string.sub(redis.call('HGET', F.out, token), 2))
    local q = hnum(F.pos, token)
    if extra and extra[token] then q = extra[token] end
    return notional_down(ticks, q)
  end
  return event_floor(F, entry or redis.call('HGET', F.ev, field), extra)
end

-- Recomputes one evf field and the total.
local function refloor_field(F, field)
  local f = floor_of(F, field, nil, nil)
  local old = num(redis.call('HGET', F.evf, field))
  if f ~= old then
    redis.call('HSET', F.evf, field, fmt(f))
    redis.call('HSET', F.state, 'floor', fmt(hnum(F.state, 'floor') + f - old))
  end
end

-- Recomputes the floor a token's shares count in, after they changed.
local function refloor(F, token)
  local field = floor_field(F, token)
  if field then refloor_field(F, field) end
end

-- A token's market resolved paying `ticks` a share: it leaves its event and counts at that.
local function settle_token(F, token, ticks)
  local place = redis.call('HGET', F.out, token)
  redis.call('HSET', F.out, token, '=' .. ticks)
  if place and string.sub(place, 1, 1) ~= '=' then
    local entry = redis.call('HGET', F.ev, place)
    if entry then
      local it = string.gmatch(entry, '%S+')
      local kept = { it(), it() }
      for item in it do
        if string.match(item, '^(.+)/%d+/[YN]$') ~= token then kept[#kept + 1] = item end
      end
      redis.call('HSET', F.ev, place, table.concat(kept, ' '))
      refloor_field(F, place)
    end
  end
  refloor(F, token)
end

-- A new UTC day resets the daily PnL.
local function roll_day(state, now)
  local day = math.floor(now / 86400000)
  if hnum(state, 'day') ~= day then
    redis.call('HSET', state, 'day', fmt(day), 'daily_pnl', '0')
  end
end

-- Gives back what an order still holds. Reservation: "token side limit size notional".
local function release(F, resv, coid)
  local r = redis.call('HGET', resv, coid)
  if not r then return end
  local token, side, _, size, notional = string.match(r, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  local exposure = math.max(hnum(F.state, 'exposure') - tonumber(notional), 0)
  redis.call('HSET', F.state, 'exposure', fmt(exposure))
  if side == 'B' then
    local p = math.max(hnum(F.pos, token) - tonumber(size), 0)
    redis.call('HSET', F.pos, token, fmt(p))
    refloor(F, token)
  end
  redis.call('HDEL', resv, coid)
end
