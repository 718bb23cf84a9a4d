-- Moving shares with the worst-case bookkeeping following, and releasing a reservation (after
-- common.lua and floor.lua): the scripts that change positions after a decision.
-- A token's shares went from old to new: its event's holdings and floor, or its settled floor,
-- and the total follow.
local function moved(F, token, old, new)
  if old == new then return end
  local place = redis.call('HGET', F.pos, 't:' .. token)
  if not place then return end
  local delta
  if string.sub(place, 1, 1) == '=' then
    local ticks = settled_ticks(place)
    delta = notional_down(ticks, new) - notional_down(ticks, old)
  else
    local e, i, yes = parse_place(place)
    local entry = redis.call('HGET', F.pos, 'e:' .. e)
    if not entry then return end
    local ev = parse_event(entry)
    add_shares(ev, i, yes, new - old)
    local f = event_floor(ev)
    delta = f - ev[1]
    ev[1] = f
    redis.call('HSET', F.pos, 'e:' .. e, format_event(ev))
  end
  if delta ~= 0 then redis.call('HSET', F.state, 'floor', fmt(hnum(F.state, 'floor') + delta)) end
end

-- Writes a token's shares (from `old`, as the caller read them), the worst-case bookkeeping
-- following.
local function set_pos(F, token, old, new)
  redis.call('HSET', F.pos, token, fmt(new))
  moved(F, token, old, new)
end

-- A token's market resolved paying `ticks` a share: its shares leave its event and count at that.
local function settle_token(F, token, ticks)
  local got = redis.call('HMGET', F.pos, token, 't:' .. token)
  local held, place = num(got[1]), got[2]
  local delta = 0
  if place and string.sub(place, 1, 1) == '=' then
    delta = -notional_down(settled_ticks(place), held)
  elseif place then
    local e, i, yes = parse_place(place)
    local entry = redis.call('HGET', F.pos, 'e:' .. e)
    if entry then
      local ev = parse_event(entry)
      add_shares(ev, i, yes, -held)
      local f = event_floor(ev)
      delta = f - ev[1]
      ev[1] = f
      redis.call('HSET', F.pos, 'e:' .. e, format_event(ev))
    end
  end
  local e = place_event(place)
  if e then
    redis.call('HSET', F.pos, 't:' .. token, '=' .. ticks .. ' ' .. e)
  else
    redis.call('HSET', F.pos, 't:' .. token, '=' .. ticks)
  end
  delta = delta + notional_down(tonumber(ticks), held)
  if delta ~= 0 then redis.call('HSET', F.state, 'floor', fmt(hnum(F.state, 'floor') + delta)) end
end

-- `change` (signed) to the exposure of event e and of its groups, each never below zero (as
-- RiskState::expose_event).
local function expose_event(F, e, change)
  if not e or change == 0 then return end
  local got = redis.call('HMGET', F.pos, 'x:' .. e, 'G:' .. e)
  local w = { 'x:' .. e, fmt(math.max(num(got[1]) + change, 0)) }
  if got[2] then
    for g in string.gmatch(got[2], '%S+') do
      w[#w + 1] = 'g:' .. g
      w[#w + 1] = fmt(math.max(hnum(F.pos, 'g:' .. g) + change, 0))
    end
  end
  redis.call('HSET', F.pos, unpack(w))
end

-- `change` to the exposure of a token's event and groups (none for an undescribed token).
local function expose(F, token, change)
  if change == 0 then return end
  expose_event(F, place_event(redis.call('HGET', F.pos, 't:' .. token)), change)
end

-- Gives back what an order still holds. Reservation: "token side limit size notional".
local function release(F, resv, coid)
  local r = redis.call('HGET', resv, coid)
  if not r then return end
  local token, side, _, size, notional = string.match(r, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  local exposure = math.max(hnum(F.state, 'exposure') - tonumber(notional), 0)
  redis.call('HSET', F.state, 'exposure', fmt(exposure))
  expose(F, token, -tonumber(notional))
  if side == 'B' then
    local old = hnum(F.pos, token)
    set_pos(F, token, old, math.max(old - tonumber(size), 0))
  end
  redis.call('HDEL', resv, coid)
end
