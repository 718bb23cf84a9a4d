-- An order ended without (more) fills: give back its reservation.
-- KEYS: state, pos, resv   ARGV: coid
release({ state = KEYS[1], pos = KEYS[2] }, KEYS[3], ARGV[1])
return 1
