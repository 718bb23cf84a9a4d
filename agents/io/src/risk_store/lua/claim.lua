-- The execution agent claims an order before executing it: at most one execution per client
-- order id, whatever the redeliveries and restarts.
-- KEYS: order(<coid>)   Returns {'fresh'} | {'pending'} | {'done', outcome}
local order = KEYS[1]
local s = redis.call('HGET', order, 'state')
if not s then
  redis.call('HSET', order, 'state', 'pending')
  redis.call('PEXPIRE', order, 604800000)
  return {'fresh'}
end
if s == 'pending' then return {'pending'} end
return {'done', redis.call('HGET', order, 'outcome') or ''}
