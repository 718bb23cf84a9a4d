#!/usr/bin/env python3
"""Independent computation of the annualized ratios (numpy, pandas) that
agents/core/src/analytics/ratios.rs is held to: Sharpe (sample std, ddof=1), Sortino (downside
deviation over all days), Calmar (annualized return over the maximum drawdown of cumulative PnL),
365 days a year. Reads daily PnL in micro-USDC, one per line (or the constant `reference::DAILY`
of the Rust file given with `--from-rust FILE`), and a capital in micro-USDC; prints the three ratios with 17
significant digits.

    python3 scripts/verify/ratios.py --from-rust agents/core/src/analytics/ratios.rs
"""
import argparse
import re
import sys

import numpy as np
import pandas as pd


def daily_from_rust(path):
    text = open(path).read()
    body = re.search(r"pub const DAILY: \[i64; \d+\] = \[(.*?)\];", text, re.S).group(1)
    return [int(x.replace("_", "")) for x in re.findall(r"-?[\d_]+", body)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from-rust")
    ap.add_argument("--capital", type=int, default=1_000_000_000)
    args = ap.parse_args()
    daily = daily_from_rust(args.from_rust) if args.from_rust else [int(l) for l in sys.stdin if l.strip()]
    pnl = pd.Series(daily, dtype="int64")
    r = pnl / args.capital
    sharpe = r.mean() / r.std(ddof=1) * np.sqrt(365.0)
    downside = np.sqrt((np.minimum(r.to_numpy(), 0.0) ** 2).mean())
    sortino = r.mean() / downside * np.sqrt(365.0)
    equity = pnl.cumsum()
    drawdown = (equity.cummax().clip(lower=0) - equity).max()
    calmar = (pnl.sum() / args.capital) * (365.0 / len(pnl)) / (drawdown / args.capital)
    print(f"days {len(pnl)} total {pnl.sum()} max_drawdown {drawdown}")
    print(f"sharpe {sharpe:.17g}\nsortino {sortino:.17g}\ncalmar {calmar:.17g}")


if __name__ == "__main__":
    main()
