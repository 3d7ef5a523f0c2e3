"""A big labelled transaction table for the out-of-core benchmark, written as Parquet parts (nothing large is
committed: generate it where you run the benchmark).

A vectorised cousin of the built-in simulator (`pipeline.data.simulate`): customers and terminals on a square,
transactions in time order, and four fraud scenarios that leave the kind of traces the built-in data has (large
amounts, compromised terminals, compromised customers' unusual amounts, night-time bursts). Each part is drawn on
its own from a seed derived from (seed, part), so any part can be regenerated alone and memory holds one part.

    .venv/bin/python tests/bench/big_table.py --rows 2000000 --out /tmp/big --part-rows 250000

Columns: tx_id, tx_datetime, customer_id, terminal_id (ids), tx_amount, tx_hour, tx_weekend, customer_x/_y,
terminal_x/_y, distance, channel (categorical: web/pos/atm/phone), mcc (categorical, 12 codes), fraud_scenario
(meta: 0 = none), is_fraud. Prints rows/s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-01-01")
CHANNELS = np.array(["pos", "web", "atm", "phone"])
MCC = np.array([f"{c}" for c in (5411, 5812, 5999, 4111, 5541, 5912, 7011, 4829, 5732, 5311, 6011, 7995)])


def write_table(out: Path, rows: int, part_rows: int, seed: int = 0, days: int = 180, customers: int = 200000) -> int:
    """Write `rows` transactions as `part-NNNNN.parquet` under `out` (time-ordered across parts); returns parts."""
    out.mkdir(parents=True, exist_ok=True)
    world = np.random.default_rng([seed, 0])
    terminals = max(1000, customers // 2)
    cust_xy = world.uniform(0, 100, (customers, 2)).astype("float32")
    term_xy = world.uniform(0, 100, (terminals, 2)).astype("float32")
    cust_mean = world.uniform(5, 100, customers).astype("float32")
    compromised_terms = world.choice(terminals, terminals // 50, replace=False)
    compromised_cust = world.choice(customers, customers // 100, replace=False)
    span = days * 86400
    n_parts = -(-rows // part_rows)
    for k in range(n_parts):
        n = min(part_rows, rows - k * part_rows)
        rng = np.random.default_rng([seed, 1, k])
        lo, hi = span * k / n_parts, span * (k + 1) / n_parts
        seconds = np.sort(rng.uniform(lo, hi, n)).astype("int64")
        cust = rng.integers(0, customers, n)
        term = (cust // 2 + rng.integers(-50, 50, n)) % terminals
        amount = rng.gamma(2.0, cust_mean[cust] / 2.0).astype("float64")
        hour = (seconds // 3600) % 24
        weekday = (seconds // 86400 + START.dayofweek) % 7
        scenario = np.zeros(n, dtype="int64")
        scenario[amount > 220] = 1
        scenario[np.isin(term, compromised_terms) & (rng.random(n) < 0.3)] = 2
        hit = np.isin(cust, compromised_cust) & (rng.random(n) < 0.2)
        amount[hit] *= 5
        scenario[hit] = 3
        night = (hour < 5) & (rng.random(n) < 0.004)
        scenario[night] = 4
        amount[night] = rng.uniform(1, 20, int(night.sum()))
        channel = CHANNELS[rng.choice(4, n, p=[0.55, 0.3, 0.1, 0.05])]
        channel[night] = "web"
        dist = np.hypot(*(cust_xy[cust] - term_xy[term]).T)
        part = pd.DataFrame(
            {
                "tx_id": np.arange(k * part_rows, k * part_rows + n, dtype="int64"),
                "tx_datetime": START + pd.to_timedelta(seconds, unit="s"),
                "customer_id": cust.astype("int64"),
                "terminal_id": term.astype("int64"),
                "tx_amount": amount.round(2),
                "tx_hour": hour.astype("int64"),
                "tx_weekend": (weekday >= 5).astype("int64"),
                "customer_x": cust_xy[cust, 0].astype("float64"),
                "customer_y": cust_xy[cust, 1].astype("float64"),
                "terminal_x": term_xy[term, 0].astype("float64"),
                "terminal_y": term_xy[term, 1].astype("float64"),
                "distance": dist.astype("float64"),
                "channel": channel,
                "mcc": MCC[rng.integers(0, len(MCC), n)],
                "fraud_scenario": scenario,
                "is_fraud": (scenario > 0).astype("int64"),
            }
        )
        part.to_parquet(out / f"part-{k:05d}.parquet", index=False)
    return n_parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True, help="folder for the parts (created)")
    ap.add_argument("--part-rows", type=int, default=500000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--days", type=int, default=180)
    a = ap.parse_args()
    t0 = time.perf_counter()
    parts = write_table(a.out, a.rows, a.part_rows, a.seed, a.days)
    s = time.perf_counter() - t0
    print(f"big_table: {a.rows} rows in {parts} part(s) under {a.out}: {s:.1f}s, {a.rows / s:,.0f} rows/s")


if __name__ == "__main__":
    main()
