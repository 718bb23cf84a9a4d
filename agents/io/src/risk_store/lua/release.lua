-- An order ended without (more) fills: give back its reservation.
-- KEYS: state, pos, resv   ARGV: coid
release(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return 1
