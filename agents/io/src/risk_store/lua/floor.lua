-- Worst-case bookkeeping shared by the decision and the scripts that move shares (after
-- common.lua).
-- The worst-case loss at resolution (polyfleet_core::risk::events), kept in the pos hash beside
-- the shares so the decision reads it with them: 't:' .. token -> "event index Y|N", or
-- '=' .. payout ticks .. ' ' .. event once its market settled; 'e:' .. event -> the event's floor and the YES and
-- NO shares of each of its markets (the sum of its tokens' in pos), packed as below; 'x:' .. event -> the event's exposure, 'G:' .. event -> its exposure groups
-- (recorded when the event entry is made), 'g:' .. group -> the group's exposure. state.floor is the sum of the events' floors and of the settled
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

-- The event whose exposure a place's token counts in: "event index Y|N", or "=ticks event" once
-- settled (nil: no place, or settled without one).
local function place_event(place)
  if not place then return nil end
  if string.sub(place, 1, 1) == '=' then return string.match(place, '^=%d+ (%S+)$') end
  return string.match(place, '^(%S+) ')
end

-- A settled place's payout in ticks.
local function settled_ticks(place) return tonumber(string.match(place, '^=(%d+)')) end

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
