#!/usr/bin/env python3
"""Reads a polyfleet columnar recording (`polyfleet convert`, `polyfleet record --columnar`).

The file is an Arrow IPC file (Feather v2), so pyarrow, pandas and polars open it as is:

    import pyarrow.feather as feather; table = feather.read_table("rec.arrow")
    import pandas as pd;               df = pd.read_feather("rec.arrow")
    import polars as pl;               df = pl.read_ipc("rec.arrow")

One row per event; a snapshot's levels, a delta's changes and a trade sit in its `levels` list
(`df.explode("levels")` in pandas or polars gives one row per level). Prices are in 1e-4 USDC
(`price_e4`, `tick_e4`), sizes in 1e-6 shares (`size_e6`): exact integers, as the engine keeps them. This script prints the file's accounting, its events by kind, and each
token's last traded price and traded volume.

    python3 examples/recordings/read_columnar.py rec.arrow
"""

import json
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc


def main(path: str) -> None:
    with pa.memory_map(path) as source:
        reader = ipc.open_file(source)
        meta = {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}
        if meta.get("polyfleet.format") != "polyfleet-events":
            sys.exit(f"{path}: not a polyfleet columnar recording")
        footer = {k.decode(): v.decode() for k, v in (reader.metadata or {}).items()}
        table = reader.read_all()
    print(f"{path}: format {meta['polyfleet.format']} v{meta['polyfleet.version']}, {table.num_rows} rows")
    # The conversion's accounting is the file footer's custom metadata.
    if "polyfleet.accounting" in footer:
        acc = json.loads(footer["polyfleet.accounting"])
        print(f"  from {acc['source']}: {acc['events']} market events, {acc['rtds']} RTDS frames, "
              f"frames by outcome {acc['frame_outcomes']}")
    kind = table.column("kind").cast(pa.string())
    counts = pc.value_counts(kind)
    print("  events by kind:", {v["values"].as_py(): v["counts"].as_py() for v in counts})
    trades = table.filter(pc.equal(kind, "trade"))
    if trades.num_rows:
        # A trade's one level: the taker's side, the price and the size.
        level = pc.list_flatten(trades.column("levels"))
        flat = pa.table({
            "token": trades.column("token").cast(pa.string()),
            "price_e4": pc.struct_field(level, "price_e4"),
            "size_e6": pc.struct_field(level, "size_e6"),
        })
        by_token = flat.group_by("token", use_threads=False).aggregate([("size_e6", "sum"), ("price_e4", "last")])
        for row in by_token.to_pylist():
            print(f"  token {row['token'][:12]}…  volume {row['size_e6_sum'] / 1e6:.2f} shares, "
                  f"last price {row['price_e4_last'] / 1e4:.4f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "rec.arrow")
