"""Benchmark: simulate_transactions + add_transaction_features at about 100k and 1M rows.

Run from the repository root: ``.venv/bin/python tests/bench/simulate.py``. Each size runs in its
own subprocess so peak memory (ru_maxrss) is not polluted by the other size. Results go to
``tests/bench/results/simulate.json``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "bench" / "results" / "simulate.json"

SIZES = {
    "100k": dict(n_customers=1_000, n_terminals=2_000, n_days=50),
    "1M": dict(n_customers=10_000, n_terminals=20_000, n_days=50),
}


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_one(name: str) -> dict:
    sys.path.insert(0, str(ROOT))
    import pandas as pd  # noqa: F401  (imports count in the baseline, not in the steps)

    from pipeline.data.features import add_transaction_features
    from pipeline.data.simulate import simulate_transactions

    kwargs = SIZES[name]
    baseline = _peak_mib()
    t0 = time.perf_counter()
    tx = simulate_transactions(**kwargs)
    t1 = time.perf_counter()
    peak_sim = _peak_mib()
    feats = add_transaction_features(tx)
    t2 = time.perf_counter()
    peak_all = _peak_mib()
    return {
        "size": name,
        "args": kwargs,
        "rows": int(len(tx)),
        "frauds": int(tx["is_fraud"].sum()),
        "fraud_rate": float(tx["is_fraud"].mean()),
        "frauds_by_scenario": {str(k): int(v) for k, v in tx["fraud_scenario"].value_counts().sort_index().items()},
        "feature_columns": int(feats.shape[1]),
        "seconds": {"simulate": round(t1 - t0, 3), "features": round(t2 - t1, 3), "total": round(t2 - t0, 3)},
        "peak_mib": {
            "after_imports": round(baseline, 1),
            "after_simulate": round(peak_sim, 1),
            "after_features": round(peak_all, 1),
        },
        "frame_mib": {
            "transactions": round(tx.memory_usage(deep=True).sum() / 2**20, 1),
            "features": round(feats.memory_usage(deep=True).sum() / 2**20, 1),
        },
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2])))
        return
    results = []
    for name in SIZES:
        out = subprocess.run(
            [sys.executable, __file__, "--one", name], check=True, capture_output=True, text=True, cwd=ROOT
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{name}: {res['rows']} rows, fraud rate {res['fraud_rate']:.3%}, "
            f"simulate {res['seconds']['simulate']} s, features {res['seconds']['features']} s, "
            f"peak {res['peak_mib']['after_features']} MiB"
        )
        results.append(res)
    sys.path.insert(0, str(ROOT))
    from pipeline.io import write_json

    write_json(
        RESULTS,
        {
            "benchmark": "simulate_transactions + add_transaction_features",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "peak_mib_note": "ru_maxrss of a fresh subprocess per size (includes ~imports baseline)",
            "results": results,
        },
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
