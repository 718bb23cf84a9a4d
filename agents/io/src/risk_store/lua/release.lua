-- An order ended without (more) fills: give back its reservation.
-- KEYS: state, pos, resv, out, ev, evf   ARGV: coid
release({ state = KEYS[1], pos = KEYS[2], out = KEYS[4], ev = KEYS[5], evf = KEYS[6] }, KEYS[3], ARGV[1])
return 1
