-- Decides a batch of intents of one policy, one after the other exactly as separate calls would
-- (the store batches concurrent decisions: one round trip and one read of the limits for many).
-- Each intent is one order, or the legs of a set decided as one (see polyfleet_core::risk,
-- `check` and `check_set`, for the rules and their order): every leg is approved and reserved,
-- in leg order as if decided one by one, or none is and nothing is written but the verdict.
-- Reads the limits once and the state with one HMGET per intent: every redis.call costs.
-- KEYS: limits, state, pos, resv, rate, decided(<UTC day of the batch>), decided(<the day before>):
--       hashes of client order id -> verdict, each kept two days after its last write, so a
--       verdict is found for at least a day (one read of each per batch, one write).
-- ARGV: g, then g x [now ms, n, then n x [coid, token, side (B|S), price ticks, size micros,
--       book liquidity (-1: unknown), outcome ("event index Y|N markets exhaustive(0|1)
--       [group ...]" or -), Kelly probability ppm (-1: not model-sized)]]
-- Returns the verdicts, one per intent.
local limits, state, pos, resv, rate = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local L = redis.call('HMGET', limits, 'mode', 'max_order_size', 'max_order_notional',
  'max_position_per_market', 'max_gross_exposure', 'max_daily_loss', 'max_drawdown', 'max_orders_per_minute',
  'min_book_liquidity', 'max_loss_at_resolution', 'trip_cooldown_ms', 'max_orders_per_day', 'max_event_exposure',
  'kelly_budget', 'group_limits')
local mode = num(L[1])
-- The group limits by label ("label=max ..."), parsed when a decision first needs them.
local group_limits
local function group_max()
  if not group_limits then
    group_limits = {}
    for label, max in string.gmatch(L[15] or '', '(%S+)=(%d+)') do group_limits[label] = tonumber(max) end
  end
  return group_limits
end

-- The Kelly cap's largest stake (polyfleet_core::risk::kelly::max_stake): floor(budget x (p - c) /
-- (1 - c)) in millionths, exactly: the budget split by the divisor so no product passes 2^53.
local function kelly_max(budget, ppm, ticks)
  local edge = ppm - ticks * 100
  if edge <= 0 or ticks >= 10000 or budget <= 0 then return 0 end
  local room = (10000 - ticks) * 100
  local q = math.floor(budget / room)
  local r = budget - q * room
  if r < 0 then q, r = q - 1, r + room elseif r >= room then q, r = q + 1, r - room end
  return q * edge + math.floor(r * edge / room)
end

-- The verdicts given before, of every leg of the batch (today's hash wins); and those given here.
local decided, given = {}, {}
do
  local ids, b = {}, 3
  for _ = 1, tonumber(ARGV[1]) do
    local n = tonumber(ARGV[b])
    for i = 0, n - 1 do ids[#ids + 1] = ARGV[b + 1 + i * 8] end
    b = b + 2 + n * 8
  end
  local before, today = redis.call('HMGET', KEYS[7], unpack(ids)), redis.call('HMGET', KEYS[6], unpack(ids))
  for i, id in ipairs(ids) do decided[id] = today[i] or before[i] or nil end
end

-- Decides the intent whose legs' arguments start at ARGV[b].
local function decide_intent(now, n, b)
  local first = decided[ARGV[b]]
  if first then return first end
  -- No limits: refused, and not remembered (limits written later make the same id decidable).
  if not L[1] then return 'unknown_policy' end
  local S = redis.call('HMGET', state, 'day', 'daily_pnl', 'exposure', 'breaker_until', 'peak', 'equity', 'floor',
    'daily_base', 'trip', 'trip_since', 'day_orders', 'unrealized')
  local daily_pnl, exposure = num(S[2]), num(S[3])

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
    local legs, added_at = {}, {}
    local kelly_budget = -1
    if L[14] then kelly_budget = tonumber(L[14]) end
    for i = 0, n - 1 do
      local a = b + i * 8
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
        local kelly = tonumber(ARGV[a + 7])
        if kelly >= 0 and kelly_budget >= 0 and notional_up(price, held + size) > kelly_max(kelly_budget, kelly, price) then
          return 'kelly_cap'
        end
      end
      local added = 0
      if side == 'B' then added = notional end
      if exposure + added_total + added > num(L[5]) then return 'gross_exposure' end
      if min_liquidity >= 0 and liquidity >= 0 and liquidity < min_liquidity then return 'book_liquidity' end
      if side == 'B' then held_after[token] = held + size end
      added_total = added_total + added
      added_at[i + 1] = added
      legs[#legs + 1] = coid .. '\n' .. token .. ' ' .. side .. ' ' .. fmt(price) .. ' ' .. fmt(size) .. ' ' .. fmt(added)
    end
    -- The worst-case loss at resolution before and after the legs, their outcomes recorded (a
    -- token's first record stands): refused if they raise it above the limit. One more read (the
    -- events' entries) and one write.
    -- reg: 't:' .. token, place pairs recorded here; meta: token -> "markets exhaustive" of its
    -- outcome (for an event it creates).
    -- at: token -> {market index, yes} in its event; events: event -> its tokens here.
    -- groups: token -> the exposure groups of its outcome (for an event it creates).
    local reg, meta, groups, events, order, at, settled_delta = {}, {}, {}, {}, {}, {}, 0
    for i = 0, n - 1 do
      local token, outcome = ARGV[b + 1 + i * 8], ARGV[b + 6 + i * 8]
      if places[token] == nil then
        local got = redis.call('HMGET', pos, token, 't:' .. token)
        held_now[token], places[token] = num(got[1]), got[2] or false
      end
      local place = places[token]
      if not place and outcome ~= '-' then
        local e, index, yes, markets, exhaustive, gs = string.match(outcome, '^(%S+) (%d+) ([YN]) (%d+) ([01]) ?(.*)$')
        place = e .. ' ' .. index .. ' ' .. yes
        places[token] = place
        reg[#reg + 1] = 't:' .. token
        reg[#reg + 1] = place
        meta[token] = markets .. ' ' .. exhaustive
        groups[token] = gs
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
        local ticks = settled_ticks(place)
        settled_delta = settled_delta + notional_down(ticks, after) - notional_down(ticks, held_now[token])
      end
    end
    local floor_before, floor_after = num(S[7]), num(S[7]) + settled_delta
    local writes = {}
    -- Each event's exposure with what the buys add, then each of their groups' (as
    -- RiskState::exposure_limits): refused above a limit, else written with the rest.
    local xadd, xevents = {}, {}
    for i = 0, n - 1 do
      local e = added_at[i + 1] > 0 and place_event(places[ARGV[b + 1 + i * 8]])
      if e then
        if not xadd[e] then
          xadd[e] = 0
          xevents[#xevents + 1] = e
        end
        xadd[e] = xadd[e] + added_at[i + 1]
      end
    end
    -- Every event the legs touch: its entry, exposure and groups, read at once.
    local need, seen = {}, {}
    for _, list in ipairs({ order, xevents }) do
      for _, e in ipairs(list) do
        if not seen[e] then
          need[#need + 1] = e
          seen[e] = true
        end
      end
    end
    -- read: field -> value (false: absent).
    local read = {}
    if #need > 0 then
      local q = {}
      for k, e in ipairs(need) do
        q[3 * k - 2], q[3 * k - 1], q[3 * k] = 'e:' .. e, 'x:' .. e, 'G:' .. e
      end
      local got = redis.call('HMGET', pos, unpack(q))
      for k, f in ipairs(q) do read[f] = got[k] end
    end
    if #xevents > 0 then
      local max_event = -1
      if L[13] then max_event = tonumber(L[13]) end
      local gadd, gorder = {}, {}
      for _, e in ipairs(xevents) do
        local x = num(read['x:' .. e]) + xadd[e]
        if max_event >= 0 and x > max_event then return 'event_exposure' end
        writes[#writes + 1] = 'x:' .. e
        writes[#writes + 1] = fmt(x)
        -- An event made here takes the groups of its first token's outcome.
        local gs = read['G:' .. e] or (events[e] and groups[events[e][1]])
        if gs then
          for g in string.gmatch(gs, '%S+') do
            if not gadd[g] then
              gadd[g] = 0
              gorder[#gorder + 1] = g
            end
            gadd[g] = gadd[g] + xadd[e]
          end
        end
      end
      if #gorder > 0 then
        local gq = {}
        for k, g in ipairs(gorder) do gq[k] = 'g:' .. g end
        local gv = redis.call('HMGET', pos, unpack(gq))
        for k, g in ipairs(gorder) do
          local v = num(gv[k]) + gadd[g]
          local max = group_max()[string.match(g, '^([^=]*)=')]
          if max and v > max then return 'group_exposure' end
          writes[#writes + 1] = 'g:' .. g
          writes[#writes + 1] = fmt(v)
        end
      end
    end
    if #order > 0 then
      for _, e in ipairs(order) do
        local ev, stored
        local entry = read['e:' .. e]
        if entry then
          ev = parse_event(entry)
          stored = ev[1]
        else
          -- A new event: the markets and exhaustiveness of its first token's outcome.
          local markets, exhaustive = string.match(meta[events[e][1]], '^(%d+) ([01])$')
          ev = new_event(tonumber(markets), tonumber(exhaustive))
          stored = 0
          writes[#writes + 1] = 'G:' .. e
          writes[#writes + 1] = groups[events[e][1]] or ''
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
  for i = 0, n - 1 do
    local id = ARGV[b + i * 8]
    decided[id] = v
    given[#given + 1] = id
    given[#given + 1] = v
  end
  return v
end

local out, b = {}, 3
for g = 1, tonumber(ARGV[1]) do
  local now, n = tonumber(ARGV[b - 1]), tonumber(ARGV[b])
  out[g] = decide_intent(now, n, b + 1)
  b = b + 2 + n * 8
end
if #given > 0 then
  redis.call('HSET', KEYS[6], unpack(given))
  redis.call('PEXPIRE', KEYS[6], 172800000)
end
return out
