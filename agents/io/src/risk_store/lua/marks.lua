-- Unrealized PnL bookkeeping shared by the scripts that move it (after common.lua).

-- Sets a strategy's unrealized PnL (hash `marks`: token -> micros) of the tokens listed in ARGV
-- from index `from` (n pairs token, micros; a zero removes the token), keeping the policy's total
-- in state.unrealized; `replace`: the strategy's tokens not listed are removed too (as
-- RiskState::on_marks). Returns the new total.
local function set_marks(state, marks, from, n, replace)
  local total = hnum(state, 'unrealized')
  local listed = {}
  for i = 0, n - 1 do listed[ARGV[from + 2 * i]] = true end
  if replace then
    local old = redis.call('HGETALL', marks)
    for k = 1, #old, 2 do
      if not listed[old[k]] then
        total = total - tonumber(old[k + 1])
        redis.call('HDEL', marks, old[k])
      end
    end
  end
  for i = 0, n - 1 do
    local token, value = ARGV[from + 2 * i], tonumber(ARGV[from + 2 * i + 1])
    total = total + value - num(redis.call('HGET', marks, token))
    if value == 0 then redis.call('HDEL', marks, token) else redis.call('HSET', marks, token, fmt(value)) end
  end
  redis.call('HSET', state, 'unrealized', fmt(total))
  return total
end
