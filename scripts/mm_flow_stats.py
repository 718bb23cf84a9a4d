#!/usr/bin/env python3
"""The statistics of `mm_flow_compare.sh`'s runs (standard library only).

Reads `DIR/s<seed>-f<flow>-<mm|naive>/out/report.json`, prints every seed's marked PnL (and
rebates, fills) for both quoters on both flows, then per flow: the mean PnL of each quoter with
its 95 % confidence interval (Student t over seeds), the paired difference MM - naive with its
interval, on how many seeds the market maker did better, and the two-sided sign-test p-value.

    python3 scripts/mm_flow_stats.py DIR [INFORMED_PERCENT]
"""

import json
import math
import os
import re
import statistics
import sys

# Two-sided 95 % Student t quantiles by degrees of freedom (beyond 30: the normal's 1.96).
T975 = [None, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060,
        2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df):
    return T975[df] if df < len(T975) else 1.96


def interval(xs):
    """Mean and half-width of its 95 % interval."""
    m = statistics.fmean(xs)
    if len(xs) < 2:
        return m, float("nan")
    return m, t975(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))


def sign_test(wins, losses):
    """Two-sided exact binomial p-value of wins against losses (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def read(path):
    with open(path) as f:
        s = json.load(f)["strategies"][0]
    a = s.get("analytics", {}).get("pnl_attribution", {})
    return {
        "pnl": float(s["pnl_usdc"]),
        "rebates": float(a.get("rebates", "0")),
        "total": float(a.get("total", s["pnl_usdc"])),
        "fills": s["rule_events"].get("fills", 0),
        "toxic": s["rule_events"].get("pulls_toxic_flow", 0),
    }


def main():
    root = sys.argv[1]
    informed = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    runs = {}
    for name in os.listdir(root):
        m = re.fullmatch(r"s(\d+)-f(\d+)-(mm|naive)", name)
        report = os.path.join(root, name, "out", "report.json")
        if m and os.path.exists(report):
            runs[(int(m[1]), int(m[2]), m[3])] = read(report)
    seeds = sorted({s for s, _, _ in runs})
    flows = [0, informed]
    print("PnL in USDC, marked (rebates apart); fills; toxic-flow pulls")
    print(f"{'seed':>4} | " + " | ".join(f"{'f' + str(f) + ' ' + k:>28}" for f in flows for k in ("mm", "naive")))
    for s in seeds:
        cells = []
        for f in flows:
            for k in ("mm", "naive"):
                r = runs.get((s, f, k))
                cells.append(f"{r['pnl']:>9.2f} ({r['rebates']:>6.2f}) {r['fills']:>5} {r['toxic']:>3}" if r else f"{'-':>28}")
        print(f"{s:>4} | " + " | ".join(cells))
    print()
    for f in flows:
        label = "uninformed" if f == 0 else f"informed {f} %"
        for what, key in (("marked PnL", "pnl"), ("PnL at mid with rebates and rewards", "total")):
            pairs = [(runs[(s, f, "mm")][key], runs[(s, f, "naive")][key]) for s in seeds
                     if (s, f, "mm") in runs and (s, f, "naive") in runs]
            if not pairs:
                continue
            mm = [a for a, _ in pairs]
            nv = [b for _, b in pairs]
            d = [a - b for a, b in pairs]
            wins = sum(1 for x in d if x > 0)
            losses = sum(1 for x in d if x < 0)
            (m1, h1), (m2, h2), (md, hd) = interval(mm), interval(nv), interval(d)
            print(f"{label}, {what}, {len(pairs)} seeds:")
            print(f"  market maker  mean {m1:8.2f} ± {h1:.2f}  (positive on {sum(1 for x in mm if x > 0)} of {len(mm)})")
            print(f"  naive         mean {m2:8.2f} ± {h2:.2f}  (positive on {sum(1 for x in nv if x > 0)} of {len(nv)})")
            print(f"  MM - naive    mean {md:8.2f} ± {hd:.2f}  (95 % CI [{md - hd:.2f}, {md + hd:.2f}]);"
                  f" MM better on {wins} of {len(d)}, sign test p = {sign_test(wins, losses):.3g}")


if __name__ == "__main__":
    main()
