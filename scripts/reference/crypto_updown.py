#!/usr/bin/env python3
"""Reference values for the crypto up/down model (agents/core/src/models/crypto.rs), computed
independently with scipy.stats.t; the Rust tests assert the same numbers to 1e-9.

    pip install scipy && python3 scripts/reference/crypto_updown.py
"""
import math

from scipy.stats import t


def p_up(spot, strike, sigma, tau, nu):
    d = math.log(strike / spot) / (sigma * math.sqrt(tau))
    return 1.0 - t.cdf(d * math.sqrt(nu / (nu - 2.0)), nu)


def p_up_twap(spot, strike, sigma, tau, window, integral, nu):
    if tau >= window:
        return p_up(spot, strike, sigma, tau - 2.0 * window / 3.0, nu)
    mean = (integral + tau * spot) / window
    sd = spot * sigma * tau ** 1.5 / (window * math.sqrt(3.0))
    return 1.0 - t.cdf((strike - mean) / sd * math.sqrt(nu / (nu - 2.0)), nu)


CASES = [
    ("t_cdf(-1.5, 6)", lambda: t.cdf(-1.5, 6)),
    ("t_cdf(0.3, 3.5)", lambda: t.cdf(0.3, 3.5)),
    ("t_cdf(2.7, 30)", lambda: t.cdf(2.7, 30)),
    ("p_up(100000, 100050, 0.0004, 600, 6)", lambda: p_up(100000, 100050, 0.0004, 600, 6)),
    ("p_up(3000, 2990, 0.0006, 120, 4)", lambda: p_up(3000, 2990, 0.0006, 120, 4)),
    ("p_up_twap(100000, 100050, 0.0004, 600, 60, 0, 6)", lambda: p_up_twap(100000, 100050, 0.0004, 600, 60, 0, 6)),
    (
        "p_up_twap(100020, 100000, 0.0004, 20, 60, 40 * 99995, 6)",
        lambda: p_up_twap(100020, 100000, 0.0004, 20, 60, 40 * 99995, 6),
    ),
]

for name, f in CASES:
    print(f"{name} = {f():.15f}")
