#!/usr/bin/env python3
"""The cash a journal's fills moved, computed from its SQLite `fills` table alone (an independent
check of the ledger): each trade once (its CONFIRMED row, else its MATCHED one; a FAILED trade
moved nothing), buys rounded up and sells down to the micro-USDC as the ledger rounds them, fees
paid. Add what conditional-token operations paid (merges 1 USDC a set, conversions n - 1 a unit,
redemptions the payout a share: the `up` summary's lifecycle line) to get the strategy's cash.

    python3 scripts/verify/journal_fills_cash.py ~/.local/share/polyfleet/journal.db [strategy]
"""
import sqlite3
import sys

path = sys.argv[1]
strategy = sys.argv[2] if len(sys.argv) > 2 else None
db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
query = "select fill_id, status, side, price_ticks, size_micros, fee_micros from fills"
args = ()
if strategy:
    query += " where strategy = ?"
    args = (strategy,)
trades = {}
for fill_id, status, side, ticks, size, fee in db.execute(query, args):
    trades.setdefault(fill_id, {})[status] = (side, ticks, size, fee)
cash = 0
counted = failed = 0
for rows in trades.values():
    if "failed" in rows:
        failed += 1
        continue
    side, ticks, size, fee = rows.get("confirmed") or rows["matched"]
    units = ticks * size  # micro-USDC x 10 000
    cash += -(-units // 10_000) * -1 if side == "buy" else units // 10_000
    cash -= fee
    counted += 1
print(f"{counted} trades ({failed} failed, not counted): fills cash {cash / 1e6:.6f} USDC")
