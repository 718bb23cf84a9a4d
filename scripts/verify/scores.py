#!/usr/bin/env python3
"""Independent computation (numpy) of the forecast scores agents/core/src/analytics/scores.rs is
held to: Brier score mean((p - o)^2), the market's Brier score over the forecasts that have a mid,
and the log loss mean(-ln p_o) with probabilities clamped to [1e-6, 1 - 1e-6]. Reads the constant
`reference::FORECASTS` of the Rust file; prints the three with 17 significant digits.

    python3 scripts/verify/scores.py agents/core/src/analytics/scores.rs
"""
import re
import sys

import numpy as np


def main():
    text = open(sys.argv[1]).read()
    body = re.search(r"pub const FORECASTS: \[\(u32, Option<u32>, bool\); \d+\] = \[(.*?)\];", text, re.S).group(1)
    rows = re.findall(r"\((\d+), (None|Some\((\d+)\)), (true|false)\)", body)
    p = np.array([int(r[0]) for r in rows], dtype=np.float64) / 1e6
    o = np.array([r[3] == "true" for r in rows], dtype=np.float64)
    has = np.array([r[1] != "None" for r in rows])
    m = np.array([int(r[2]) if r[2] else 0 for r in rows], dtype=np.float64) / 1e6
    brier = np.mean((p - o) ** 2)
    market = np.mean((m[has] - o[has]) ** 2)
    p_o = np.clip(np.where(o == 1.0, p, 1.0 - p), 1e-6, 1.0 - 1e-6)
    log_loss = np.mean(-np.log(p_o))
    print(f"forecasts {len(rows)} with a mid {int(has.sum())}")
    print(f"brier {brier:.17g}\nmarket_brier {market:.17g}\nlog_loss {log_loss:.17g}")


if __name__ == "__main__":
    main()
