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
    local ticks = tonumber(string.sub(place, 2))
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
    delta = -notional_down(tonumber(string.sub(place, 2)), held)
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
  redis.call('HSET', F.pos, 't:' .. token, '=' .. ticks)
  delta = delta + notional_down(tonumber(ticks), held)
  if delta ~= 0 then redis.call('HSET', F.state, 'floor', fmt(hnum(F.state, 'floor') + delta)) end
end

-- Gives back what an order still holds. Reservation: "token side limit size notional".
local function release(F, resv, coid)
  local r = redis.call('HGET', resv, coid)
  if not r then return end
  local token, side, _, size, notional = string.match(r, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  local exposure = math.max(hnum(F.state, 'exposure') - tonumber(notional), 0)
  redis.call('HSET', F.state, 'exposure', fmt(exposure))
  if side == 'B' then
    local old = hnum(F.pos, token)
    set_pos(F, token, old, math.max(old - tonumber(size), 0))
  end
  redis.call('HDEL', resv, coid)
end
