-- Commits what executing an order produced, atomically: each fill once (by fill id) into the
-- policy's exposure, positions and realized PnL (daily PnL, equity, drawdown, loss streak) and
-- the strategy's ledger position; then, when the order is over, releases what it still holds;
-- and records the order as done with its outcome (replayed if its approval is redelivered).
-- The strategy's unrealized PnL the fills changed is set first (set_marks), so the peak
-- follows realized and unrealized PnL moved together.
-- KEYS: limits, state, pos, resv, fills, ledger(<strategy>), order(<coid>), unrealized(<strategy>)
-- ARGV: coid, now ms, release (0|1), has outcome (0|1), outcome, n, then n x
--       [fill id, side (B|S, or XB|XS: the reversal of a FAILED buy or sell), size micros,
--        cost micros (a reversal's is negative: what the ledger took back), token,
--        realized micros, ledger position, round trip (a sell's order or its set, for the
--        loss streak)], then m, then m x [token, unrealized micros]
local limits, state, pos, resv, fills, ledger, order = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local F = { state = state, pos = pos }
local coid, now, do_release = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local n = tonumber(ARGV[6])
local m = tonumber(ARGV[7 + n * 8])
-- With fills, a new UTC day rolls before the marks (as RiskState::on_marks).
if n > 0 then roll_day(state, now) end
local unrl = hnum(state, 'unrealized')
if m > 0 then unrl = set_marks(state, KEYS[8], 8 + n * 8, m, false) end
for i = 0, n - 1 do
  local a = 7 + i * 8
  local fill_id, side, size, cost = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local token, realized, position, round = ARGV[a + 4], tonumber(ARGV[a + 5]), ARGV[a + 6], ARGV[a + 7]
  if side == 'XB' or side == 'XS' then
    -- A FAILED trade: undo its exposure, position and realized PnL; not a round trip.
    if redis.call('SADD', fills, fill_id) == 1 then
      roll_day(state, now)
      local change = cost
      local old = hnum(pos, token)
      local held = old
      if side == 'XB' then
        held = math.max(held - size, 0)
      else
        change = -cost
        held = held + size
      end
      redis.call('HSET', state, 'exposure', fmt(math.max(hnum(state, 'exposure') + change, 0)))
      expose(F, token, change)
      set_pos(F, token, old, held)
      local equity = hnum(state, 'equity') + realized
      redis.call('HSET', state, 'daily_pnl', fmt(hnum(state, 'daily_pnl') + realized), 'equity', fmt(equity),
        'peak', fmt(math.max(hnum(state, 'peak'), equity + unrl)))
      redis.call('HSET', ledger, token, position)
    end
  elseif redis.call('SADD', fills, fill_id) == 1 then
    roll_day(state, now)
    -- The fill's share of the reservation: at the limit price, everything left on the last fill.
    local reserved = 0
    -- Shares of the fill the reservation held in the position already (a buy is counted in the
    -- position when decided); the rest (a fill after the order was released: live fills can
    -- come after the venue's final order update) is added here.
    local covered = 0
    local r = redis.call('HGET', resv, coid)
    if r then
      local rtoken, rside, limit, rsize, rnotional = string.match(r, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
      limit, rsize, rnotional = tonumber(limit), tonumber(rsize), tonumber(rnotional)
      local part = rnotional
      if size < rsize then part = math.min(rnotional, notional_up(limit, size)) end
      rnotional = math.max(rnotional - part, 0)
      covered = math.min(size, rsize)
      rsize = math.max(rsize - size, 0)
      redis.call('HSET', resv, coid, rtoken .. ' ' .. rside .. ' ' .. fmt(limit) .. ' ' .. fmt(rsize) .. ' ' .. fmt(rnotional))
      reserved = part
    end
    local change = -cost
    if side == 'B' then change = cost - reserved end
    redis.call('HSET', state, 'exposure', fmt(math.max(hnum(state, 'exposure') + change, 0)))
    expose(F, token, change)
    if side == 'S' then
      local old = hnum(pos, token)
      set_pos(F, token, old, math.max(old - size, 0))
    elseif size > covered then
      local old = hnum(pos, token)
      set_pos(F, token, old, old + size - covered)
    end
    -- Realized PnL; a sell fill closes part of a round trip (its order, or the set it sells),
    -- whose fills are netted: one loss while the net is negative (counted once, loss_counted),
    -- a net not negative ends the streak; loss_order names the round trip, loss_net its net.
    local daily = hnum(state, 'daily_pnl') + realized
    local equity = hnum(state, 'equity') + realized
    local peak = math.max(hnum(state, 'peak'), equity + unrl)
    redis.call('HSET', state, 'daily_pnl', fmt(daily), 'equity', fmt(equity), 'peak', fmt(peak))
    if side == 'S' then
      if redis.call('HGET', state, 'loss_order') ~= round then
        redis.call('HSET', state, 'loss_order', round, 'loss_net', '0', 'loss_counted', '0')
      end
      local net = hnum(state, 'loss_net') + realized
      redis.call('HSET', state, 'loss_net', fmt(net))
      if net < 0 then
        if hnum(state, 'loss_counted') == 0 then
          local losses = hnum(state, 'losses') + 1
          local needed = hnum(limits, 'breaker_losses')
          if needed > 0 and losses >= needed then
            redis.call('HSET', state, 'breaker_until', fmt(now + hnum(limits, 'breaker_cooldown_ms')))
            losses = 0
          end
          redis.call('HSET', state, 'losses', fmt(losses), 'loss_counted', '1')
        end
      else
        redis.call('HSET', state, 'losses', '0', 'loss_counted', '0')
      end
    end
    redis.call('HSET', ledger, token, position)
  end
end
if do_release then release(F, resv, coid) end
redis.call('HSET', order, 'state', 'done')
if ARGV[4] == '1' then redis.call('HSET', order, 'outcome', ARGV[5]) end
redis.call('PEXPIRE', order, 604800000)
return 1
