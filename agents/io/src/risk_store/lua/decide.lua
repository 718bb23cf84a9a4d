-- Decides a batch of intents of one policy, one after the other exactly as separate calls would
-- (the store batches concurrent decisions: one round trip for many). Each intent is one order, or
-- the legs of a set decided as one (see polyfleet_core::risk, `check` and `check_set`, for the
-- rules and their order): every leg is approved and reserved, in leg order as if decided one by
-- one, or none is and nothing is written but the verdict.
-- The batch reads what it needs at once into typed views (the state's numbers; per token its
-- shares and parsed place; per event its exposure, groups and parsed entry; per group its
-- exposure), every intent reads and writes the views (so each sees what the ones before it wrote),
-- and the views are written back at the end: every redis.call, string conversion and MessagePack
-- round trip costs more than the rules themselves.
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
-- -1 (or absent, limits written before the field existed): no limit.
local function opt(v) if v then return tonumber(v) end return -1 end
local max_order_size, max_notional, max_position = num(L[2]), num(L[3]), num(L[4])
local max_gross, max_daily_loss, max_drawdown, max_rate = num(L[5]), num(L[6]), num(L[7]), num(L[8])
local min_liquidity, cooldown = num(L[9]), num(L[11])
local max_loss, max_day, max_event, kelly_budget = opt(L[10]), opt(L[12]), opt(L[13]), opt(L[14])
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

-- Runs cmd on key with the arguments in list (at most 2000 at a time: Lua's stack is limited);
-- the replies concatenated.
local function chunked(cmd, key, list)
  local out = {}
  for s = 1, #list, 2000 do
    local got = redis.call(cmd, key, unpack(list, s, math.min(s + 1999, #list)))
    if type(got) == 'table' then
      for _, x in ipairs(got) do out[#out + 1] = x end
    end
  end
  return out
end

-- The state's fields as numbers (trip: its name, '' for none); `dirty`: the fields to write back.
local SF = { 'day', 'daily_pnl', 'exposure', 'breaker_until', 'peak', 'equity', 'floor', 'daily_base',
  'trip_since', 'day_orders', 'unrealized', 'trips_daily_loss', 'trips_drawdown' }
local S, S_dirty = nil, {}
local function load_state()
  local got = redis.call('HMGET', state, 'trip', unpack(SF))
  S = { trip = got[1] or '' }
  for k, f in ipairs(SF) do S[f] = num(got[k + 1]) end
end
local function sput(f, v)
  S[f] = v
  S_dirty[f] = true
end
-- The trip rules' writers (as common.lua's trip_rules calls them: formatted values).
local function put(...)
  local a = { ... }
  for k = 1, #a, 2 do
    if a[k] == 'trip' then sput('trip', a[k + 1]) else sput(a[k], tonumber(a[k + 1])) end
  end
end
local function bump(f) sput(f, S[f] + 1) end

-- Tokens: token -> { held = shares, place = its place or false, e = its event (nil: none),
-- i = market index, yes, settled = payout ticks once settled; hd, pd: shares, place to write }.
local toks = {}
local function token_view(token, held, place)
  local t = { held = num(held), place = place or false }
  if place then
    if string.sub(place, 1, 1) == '=' then
      t.settled = settled_ticks(place)
      t.e = place_event(place)
    else
      t.e, t.i, t.yes = parse_place(place)
    end
  end
  toks[token] = t
  return t
end
local function load_tokens(list)
  local q, seen = {}, {}
  for _, token in ipairs(list) do
    if not toks[token] and not seen[token] then
      q[#q + 1] = token
      q[#q + 1] = 't:' .. token
      seen[token] = true
    end
  end
  if #q == 0 then return end
  local got = chunked('HMGET', pos, q)
  for k = 1, #q, 2 do token_view(q[k], got[k], got[k + 1]) end
end
local function tok(token)
  if not toks[token] then load_tokens({ token }) end
  return toks[token]
end

-- Events: event -> { x = exposure, G = its groups (false: none recorded), entry = its entry as
-- stored (false: none), parsed = the entry as a table (made on first use, replaced, never
-- changed, when a decision changes it); xd, Gd, ed: to write }. Groups: group -> exposure.
local evs, groups, g_dirty = {}, {}, {}
local function load_events(list)
  local q, seen = {}, {}
  for _, e in ipairs(list) do
    if not evs[e] and not seen[e] then
      q[#q + 1] = 'e:' .. e
      q[#q + 1] = 'x:' .. e
      q[#q + 1] = 'G:' .. e
      seen[e] = true
    end
  end
  if #q == 0 then return end
  local got = chunked('HMGET', pos, q)
  for k = 1, #q, 3 do
    evs[string.sub(q[k], 3)] = { entry = got[k], x = num(got[k + 1]), G = got[k + 2] }
  end
end
local function event(e)
  if not evs[e] then load_events({ e }) end
  return evs[e]
end
local function entry(v)
  if not v.parsed and v.entry then v.parsed = parse_event(v.entry) end
  return v.parsed
end
local function load_groups(list)
  local q, seen = {}, {}
  for _, g in ipairs(list) do
    if not groups[g] and not seen[g] then
      q[#q + 1] = 'g:' .. g
      seen[g] = true
    end
  end
  if #q == 0 then return end
  local got = chunked('HMGET', pos, q)
  for k, f in ipairs(q) do groups[string.sub(f, 3)] = num(got[k]) end
end
local function group(g)
  if not groups[g] then load_groups({ g }) end
  return groups[g]
end
-- A groups string ("label=value ...") as a list, and a group's label, each parsed once.
local group_lists, labels = {}, {}
local function group_list(gs)
  local l = group_lists[gs]
  if not l then
    l = {}
    for g in string.gmatch(gs, '%S+') do l[#l + 1] = g end
    group_lists[gs] = l
  end
  return l
end
local function label(g)
  local l = labels[g]
  if not l then
    l = string.match(g, '^([^=]*)=')
    labels[g] = l
  end
  return l
end
-- An outcome argument: { place, e, i, yes, markets, exhaustive, groups } (nil: '-').
local outcomes = {}
local function outcome(arg)
  if arg == '-' then return nil end
  local o = outcomes[arg]
  if not o then
    local e, index, yes, markets, exhaustive, gs = string.match(arg, '^(%S+) (%d+) ([YN]) (%d+) ([01]) ?(.*)$')
    o = { place = e .. ' ' .. index .. ' ' .. yes, e = e, i = tonumber(index), yes = yes == 'Y',
      markets = tonumber(markets), exhaustive = tonumber(exhaustive), groups = gs }
    outcomes[arg] = o
  end
  return o
end
local function copy(t)
  local c = {}
  for k = 1, #t do c[k] = t[k] end
  return c
end

-- The rate list (times of the last minute's orders, oldest first): the Redis list from `popped`
-- on (its head read 64 at a time), then the times pushed here from `ppop` on.
local R = { len = 0, head = {}, popped = 0, pushed = {}, ppop = 0 }
local function rate_front()
  if R.popped < R.len then
    local t = R.head[R.popped]
    if t == nil then
      local got = redis.call('LRANGE', rate, R.popped, R.popped + 63)
      for k, x in ipairs(got) do R.head[R.popped + k - 1] = tonumber(x) end
      t = R.head[R.popped]
    end
    return t
  end
  return R.pushed[R.ppop + 1]
end
local function rate_pop()
  if R.popped < R.len then R.popped = R.popped + 1 else R.ppop = R.ppop + 1 end
end
local function rate_count() return R.len - R.popped + #R.pushed - R.ppop end

-- The intents: {now, n, first argument}; every leg's client order id.
local intents, ids = {}, {}
do
  local b = 3
  for g = 1, tonumber(ARGV[1]) do
    local n = tonumber(ARGV[b])
    intents[g] = { tonumber(ARGV[b - 1]), n, b + 1 }
    for i = 0, n - 1 do ids[#ids + 1] = ARGV[b + 1 + i * 8] end
    b = b + 2 + n * 8
  end
end

-- The verdicts given before, of every leg of the batch (today's hash wins); and those given here.
-- resv_writes: the approved legs' reservations (coid, reservation pairs).
local decided, given, resv_writes = {}, {}, {}
do
  local before, today = chunked('HMGET', KEYS[7], ids), chunked('HMGET', KEYS[6], ids)
  for i, id in ipairs(ids) do decided[id] = today[i] or before[i] or nil end
end

-- The state, the rate list's length and what the undecided intents' legs may need (their
-- tokens, then the events of those and of their outcomes, then those events' groups), read at
-- once; nothing when there is no limit to decide by.
if L[1] then
  local tokens, first_outcome = {}, {}
  for _, it in ipairs(intents) do
    if not decided[ARGV[it[3]]] then
      for i = 0, it[2] - 1 do
        local a = it[3] + i * 8
        tokens[#tokens + 1] = ARGV[a + 1]
        first_outcome[ARGV[a + 1]] = first_outcome[ARGV[a + 1]] or ARGV[a + 6]
      end
    end
  end
  if #tokens > 0 then
    load_state()
    R.len = redis.call('LLEN', rate)
    load_tokens(tokens)
    local list, gs = {}, {}
    for token, arg in pairs(first_outcome) do
      local t, o = toks[token], nil
      if not t.place then o = outcome(arg) end
      local e = (t.place and t.e) or (o and o.e)
      if e then list[#list + 1] = e end
      if o then
        for _, g in ipairs(group_list(o.groups)) do gs[#gs + 1] = g end
      end
    end
    load_events(list)
    for _, e in ipairs(list) do
      local G = evs[e].G
      if G then
        for _, g in ipairs(group_list(G)) do gs[#gs + 1] = g end
      end
    end
    load_groups(gs)
  end
end

-- The verdict on the intent whose legs' arguments start at ARGV[b] (the state loaded).
local function verdict(now, n, b)
  -- A new UTC day resets the daily PnL (as roll_day does).
  local day = math.floor(now / 86400000)
  if S.day ~= day then
    local u = S.unrealized
    sput('day', day)
    sput('daily_pnl', 0)
    sput('daily_base', u)
    sput('day_unrealized', u)
    sput('day_orders', 0)
  end
  while true do
    local t = rate_front()
    if t and t + 60000 <= now then rate_pop() else break end
  end
  local trip = trip_rules(now, { trip = S.trip, since = S.trip_since, cooldown = cooldown, base = S.daily_base,
    daily = S.daily_pnl, equity = S.equity, peak = S.peak, unrl = S.unrealized, max_loss = max_daily_loss,
    max_dd = max_drawdown }, put, bump)
  if mode == 2 then return 'kill_switch' end
  if now < S.breaker_until then return 'circuit_breaker' end
  local recent, exposure, day_orders = rate_count(), S.exposure, S.day_orders
  local added_total = 0
  -- Each token's shares after the legs before it; what each leg adds to exposure.
  local held_after, added_at = {}, {}
  for i = 0, n - 1 do
    local a = b + i * 8
    local token, buy = ARGV[a + 1], ARGV[a + 2] == 'B'
    local price, size, liquidity = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
    if buy then
      if mode == 1 then return 'reduce_only' end
      if trip ~= '' then return trip end
    end
    if recent + i >= max_rate then return 'order_rate' end
    if max_day >= 0 and day_orders + i >= max_day then return 'daily_orders' end
    if size > max_order_size then return 'max_order_size' end
    local notional = notional_up(price, size)
    if notional > max_notional then return 'max_order_notional' end
    local held, added = 0, 0
    if buy then
      held = held_after[token] or tok(token).held
      if held + size > max_position then return 'max_position' end
      local kelly = tonumber(ARGV[a + 7])
      if kelly >= 0 and kelly_budget >= 0 and notional_up(price, held + size) > kelly_max(kelly_budget, kelly, price) then
        return 'kelly_cap'
      end
      added = notional
    end
    if exposure + added_total + added > max_gross then return 'gross_exposure' end
    if min_liquidity >= 0 and liquidity >= 0 and liquidity < min_liquidity then return 'book_liquidity' end
    if buy then held_after[token] = held + size end
    added_total = added_total + added
    added_at[i + 1] = added
  end
  -- The worst-case loss at resolution before and after the legs, their outcomes recorded (a
  -- token's first record stands): refused if they raise it above the limit.
  -- recorded: token -> its outcome, for tokens recorded here; at: token -> {market index, yes}
  -- in its event; events: event -> its tokens here, in order.
  local recorded, at, events, order = {}, {}, {}, {}
  for i = 0, n - 1 do
    local token = ARGV[b + 1 + i * 8]
    local t = tok(token)
    local e, mi, yes
    if t.place then
      if not t.settled then e, mi, yes = t.e, t.i, t.yes end
    elseif not recorded[token] then
      local o = outcome(ARGV[b + 6 + i * 8])
      if o then
        recorded[token] = o
        e, mi, yes = o.e, o.i, o.yes
      end
    end
    if e and not at[token] then
      at[token] = { mi, yes }
      if not events[e] then
        events[e] = {}
        order[#order + 1] = e
      end
      local list = events[e]
      list[#list + 1] = token
    end
  end
  local settled_delta = 0
  for token, after in pairs(held_after) do
    local t = toks[token]
    if t.settled then
      settled_delta = settled_delta + notional_down(t.settled, after) - notional_down(t.settled, t.held)
    end
  end
  -- Each event's exposure with what the buys add, then each of their groups' (as
  -- RiskState::exposure_limits): refused above a limit.
  local xadd, xevents, x_after, g_after = {}, {}, {}, {}
  for i = 0, n - 1 do
    if added_at[i + 1] > 0 then
      local token = ARGV[b + 1 + i * 8]
      local t = toks[token]
      local e = (t.place and t.e) or (recorded[token] and recorded[token].e)
      if e then
        if not xadd[e] then
          xadd[e] = 0
          xevents[#xevents + 1] = e
        end
        xadd[e] = xadd[e] + added_at[i + 1]
      end
    end
  end
  if #xevents > 0 then
    local gadd, gorder = {}, {}
    for _, e in ipairs(xevents) do
      local v = event(e)
      local x = v.x + xadd[e]
      if max_event >= 0 and x > max_event then return 'event_exposure' end
      x_after[e] = x
      -- An event made here takes the groups of its first token's outcome.
      local gs = v.G or (events[e] and recorded[events[e][1]] and recorded[events[e][1]].groups)
      if gs then
        for _, g in ipairs(group_list(gs)) do
          if not gadd[g] then
            gadd[g] = 0
            gorder[#gorder + 1] = g
          end
          gadd[g] = gadd[g] + xadd[e]
        end
      end
    end
    for _, g in ipairs(gorder) do
      local x = group(g) + gadd[g]
      local max = group_max()[label(g)]
      if max and x > max then return 'group_exposure' end
      g_after[g] = x
    end
  end
  local floor_now = S.floor
  local floor_before, floor_after = floor_now, floor_now + settled_delta
  local entries = {}
  for _, e in ipairs(order) do
    local v = event(e)
    local ev, stored = entry(v), 0
    if ev then
      ev = copy(ev)
      stored = ev[1]
    else
      -- A new event: the markets and exhaustiveness of its first token's outcome.
      local o = recorded[events[e][1]]
      ev = new_event(o.markets, o.exhaustive)
    end
    -- Tokens recorded here bring the shares they already had; then the buys' shares.
    for _, token in ipairs(events[e]) do
      if recorded[token] then add_shares(ev, at[token][1], at[token][2], toks[token].held) end
    end
    local f0 = event_floor(ev)
    for _, token in ipairs(events[e]) do
      if held_after[token] then add_shares(ev, at[token][1], at[token][2], held_after[token] - toks[token].held) end
    end
    local f1 = event_floor(ev)
    ev[1] = f1
    floor_before = floor_before - stored + f0
    floor_after = floor_after - stored + f1
    entries[e] = ev
  end
  local loss_before = exposure - floor_before
  local loss_after = exposure + added_total - floor_after
  if max_loss >= 0 and loss_after > max_loss and loss_after > loss_before then return 'max_loss_at_resolution' end
  -- Every leg approved: record the outcomes, exposures and floors, reserve them all.
  for token, o in pairs(recorded) do
    local t = toks[token]
    t.place, t.e, t.i, t.yes, t.pd = o.place, o.e, o.i, o.yes, true
  end
  for e, x in pairs(x_after) do
    evs[e].x = x
    evs[e].xd = true
  end
  for g, x in pairs(g_after) do
    groups[g] = x
    g_dirty[g] = true
  end
  for e, ev in pairs(entries) do
    local v = evs[e]
    if not v.entry and not v.parsed then
      v.G = recorded[events[e][1]].groups or ''
      v.Gd = true
    end
    v.parsed, v.ed = ev, true
  end
  for token, held in pairs(held_after) do
    local t = toks[token]
    t.held, t.hd = held, true
  end
  for i = 0, n - 1 do
    local a = b + i * 8
    R.pushed[#R.pushed + 1] = now
    resv_writes[#resv_writes + 1] = ARGV[a]
    resv_writes[#resv_writes + 1] = ARGV[a + 1] .. ' ' .. ARGV[a + 2] .. ' ' .. ARGV[a + 3] .. ' ' .. ARGV[a + 4] .. ' '
      .. fmt(added_at[i + 1])
  end
  sput('day_orders', day_orders + n)
  if floor_after ~= floor_now then
    sput('exposure', exposure + added_total)
    sput('floor', floor_after)
  elseif next(held_after) then
    sput('exposure', exposure + added_total)
  end
  return 'ok'
end

-- Decides the intent whose legs' arguments start at ARGV[b].
local function decide_intent(now, n, b)
  local first = decided[ARGV[b]]
  if first then return first end
  -- No limits: refused, and not remembered (limits written later make the same id decidable).
  if not L[1] then return 'unknown_policy' end
  local v = verdict(now, n, b)
  for i = 0, n - 1 do
    local id = ARGV[b + i * 8]
    decided[id] = v
    given[#given + 1] = id
    given[#given + 1] = v
  end
  return v
end

local out = {}
for g, it in ipairs(intents) do out[g] = decide_intent(it[1], it[2], it[3]) end

-- Written back: the state, the pos fields, the rate list, the reservations and the verdicts.
if S then
  local w = {}
  for f in pairs(S_dirty) do
    w[#w + 1] = f
    if f == 'trip' then w[#w + 1] = S.trip else w[#w + 1] = fmt(S[f]) end
  end
  if #w > 0 then redis.call('HSET', state, unpack(w)) end
end
do
  local w = {}
  for token, t in pairs(toks) do
    if t.hd then
      w[#w + 1] = token
      w[#w + 1] = fmt(t.held)
    end
    if t.pd then
      w[#w + 1] = 't:' .. token
      w[#w + 1] = t.place
    end
  end
  for e, v in pairs(evs) do
    if v.xd then
      w[#w + 1] = 'x:' .. e
      w[#w + 1] = fmt(v.x)
    end
    if v.Gd then
      w[#w + 1] = 'G:' .. e
      w[#w + 1] = v.G
    end
    if v.ed then
      w[#w + 1] = 'e:' .. e
      w[#w + 1] = format_event(v.parsed)
    end
  end
  for g in pairs(g_dirty) do
    w[#w + 1] = 'g:' .. g
    w[#w + 1] = fmt(groups[g])
  end
  if #w > 0 then chunked('HSET', pos, w) end
end
if R.popped > 0 then redis.call('LTRIM', rate, R.popped, -1) end
do
  local w = {}
  for k = R.ppop + 1, #R.pushed do w[#w + 1] = fmt(R.pushed[k]) end
  if #w > 0 then chunked('RPUSH', rate, w) end
end
if #resv_writes > 0 then chunked('HSET', resv, resv_writes) end
if #given > 0 then
  chunked('HSET', KEYS[6], given)
  redis.call('PEXPIRE', KEYS[6], 172800000)
end
return out
