"""Does the quality gate know its noise? Pass and flag rates of the detection check on small tables, measured.

With a few dozen real held-out frauds the reference detection AUC (real new frauds vs seed frauds) is noise: it
came out at 0.29-0.36, below chance, in five runs, and pools a classifier cannot tell from real frauds were flagged
`detection_auc_excess`. This script measures, at 30, 60 and 100 held-out frauds and over several draws, how often
the detection check flags:

* pools that ARE real frauds of the held-out period (`real`: other real frauds, disjoint from the held-out ones) -
  the gate should pass them;
* obviously bad pools - the seed rows' columns shuffled independently (`shuffled`), numbers moved by one standard
  deviation (`shifted`), uniform noise over each column's seed range (`uniform`) - the gate should flag them;

with the noise-aware check (`pipeline.quality.gate`: repeated cross-validation, bootstrap interval of the excess, a
reference below chance counted as 0.5, flagged only when the interval's lower bound is above the limit) and with
the check it replaced (mean AUC over 3 folds, point excess above the limit: `old`), at the shipped limit
(`quality.max_detection_auc_excess`).

Two tables: `linked` (columns that move together, no drift: real frauds of both periods from one distribution;
300 seed frauds) and `built-in` (the simulator's frauds under the shipped time split: 300 training frauds as the
seed set, the validation frauds drifted from them). Only the detection check is measured (the gate's other checks
do not depend on a reference AUC). Results: `tests/bench/results/gate_noise.{json,md}`.

Run: `PYTHONPATH=. .venv/bin/python tests/bench/gate_noise.py [draws]` (about 1 minute per draw on 2 busy cores).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.config.params import defaults, load_params  # noqa: E402
from pipeline.core.paths import Paths  # noqa: E402
from pipeline.core.schema import Feature, Schema  # noqa: E402
from pipeline.quality.gate import detection, detection_excess  # noqa: E402
from tests.bench.benchlib import loadavg, versions  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results"
SIZES = (30, 60, 100)
SEED_ROWS = 300
LIMIT = defaults()["quality"]["max_detection_auc_excess"]
GOOD, BAD = ("real",), ("shuffled", "shifted", "uniform")

LINKED = Schema(
    label="is_fraud",
    features=[
        Feature("amount", "numerical", "float64"),
        Feature("score", "numerical", "float64"),
        Feature("n_items", "numerical", "int64"),
        Feature("channel", "categorical", "object", ["app", "atm", "pos", "web"]),
    ],
)


def linked(rng: np.random.Generator, n: int) -> pd.DataFrame:
    score = rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "amount": np.exp(3 + score + rng.normal(0, 0.2, n)),
            "score": score,
            "n_items": np.clip(np.round(4 + 2 * score + rng.normal(0, 0.5, n)), 0, None).astype(int),
            "channel": np.where(score > 0.5, "web", rng.choice(["app", "atm", "pos"], n)),
        }
    )


def builtin() -> tuple[Schema, pd.DataFrame, pd.DataFrame]:
    """The built-in data prepared with the shipped params: (schema, training frauds, validation frauds)."""
    from pipeline.stages import prepare

    tmp = Path(tempfile.mkdtemp(prefix="gate_noise_"))
    (tmp / "data" / "raw").mkdir(parents=True)
    paths = Paths.at(tmp)
    prepare.run(load_params(ROOT / "params.yaml"), paths)
    schema = Schema.load(paths.schema)
    return (
        schema,
        schema.seed_set(pd.read_parquet(paths.split("train")))[schema.feature_names],
        schema.seed_set(pd.read_parquet(paths.split("valid")))[schema.feature_names],
    )


def old_auc(seed_df: pd.DataFrame, other: pd.DataFrame, schema: Schema, seed: int) -> float:
    """The detection AUC the gate used before: mean ROC-AUC over one 3-fold split."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from xgboost import XGBClassifier

    n = min(len(seed_df), len(other))
    rng = np.random.default_rng(seed + 1)
    real = seed_df.iloc[np.sort(rng.choice(len(seed_df), size=n, replace=False))]
    fake = other.iloc[np.sort(rng.choice(len(other), size=n, replace=False))]
    X = schema.to_model_frame(pd.concat([real, fake], ignore_index=True))
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    aucs = []
    for tr, te in StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(X, y):
        m = XGBClassifier(
            n_estimators=50,
            max_depth=3,
            n_jobs=1,
            tree_method="hist",
            enable_categorical=True,
            random_state=seed,
            verbosity=0,
        ).fit(X.iloc[tr], y[tr])
        aucs.append(roc_auc_score(y[te], m.predict_proba(X.iloc[te])[:, 1]))
    return float(np.mean(aucs))


def bad_pools(seed_df: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    num = schema.numerical
    shuffled = pd.concat([seed_df] * 2, ignore_index=True)
    for c in shuffled.columns:
        shuffled[c] = rng.permutation(shuffled[c].to_numpy())
    shifted = seed_df.sample(2 * len(seed_df), replace=True, random_state=int(rng.integers(2**31))).reset_index(
        drop=True
    )
    uniform = shifted.copy()
    for c in num:
        x = pd.to_numeric(seed_df[c], errors="coerce").astype(float)
        shifted[c] = pd.to_numeric(shifted[c], errors="coerce").astype(float) + (x.std() or 1.0)
        uniform[c] = rng.uniform(x.min(), x.max(), len(uniform))
    for c in schema.categorical:
        uniform[c] = rng.choice(seed_df[c].dropna().unique(), len(uniform))
    return {"shuffled": shuffled, "shifted": shifted, "uniform": uniform}


def trials(table: str, schema: Schema, seed_all: pd.DataFrame, real_new: pd.DataFrame | None, draws: int) -> list:
    rows = []
    for n in SIZES:
        for d in range(draws):
            rng = np.random.default_rng(1000 * n + d)
            if real_new is None:  # linked: real frauds of both periods from one distribution
                seed_df, hold, other = linked(rng, SEED_ROWS), linked(rng, n), linked(rng, 600)
            else:
                seed_df = seed_all.iloc[rng.choice(len(seed_all), SEED_ROWS, replace=False)].reset_index(drop=True)
                order = rng.permutation(len(real_new))
                hold = real_new.iloc[order[:n]].reset_index(drop=True)
                other = real_new.iloc[order[n:]].reset_index(drop=True)  # the other real new frauds
            pools = {"real": other, **bad_pools(seed_df, schema, rng)}
            ref = detection(seed_df, hold, schema, d)
            ref_old = old_auc(seed_df, hold, schema, d)
            for name, pool in pools.items():
                det = detection(seed_df, pool, schema, d)
                ex = detection_excess(det, ref, d)
                old_excess = old_auc(seed_df, pool, schema, d) - ref_old
                rows.append(
                    {
                        "table": table,
                        "n_holdout": n,
                        "draw": d,
                        "pool": name,
                        "pool_rows": len(pool),
                        "reference_auc": ref["auc"],
                        "reference_auc_old": ref_old,
                        "pool_auc": det["auc"],
                        "excess": ex["detection_auc_excess"],
                        "excess_lo": ex["detection_auc_excess_lo"],
                        "excess_hi": ex["detection_auc_excess_hi"],
                        "flagged": ex["detection_auc_excess_lo"] > LIMIT,
                        "excess_old": old_excess,
                        "flagged_old": old_excess > LIMIT,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(df: pd.DataFrame, meta: dict) -> str:
    lines = [
        "# Quality gate on small tables: pass and flag rates of the detection check",
        "",
        f"Measured {meta['date']} by `tests/bench/gate_noise.py` ({meta['draws']} draws per cell, "
        f"{meta['seconds']:.0f} s, load average {meta['load_start'][0]:.1f} -> {meta['load_end'][0]:.1f} on "
        f"{meta['cpus']} cores). Limit `max_detection_auc_excess` {LIMIT}. **new**: the noise-aware check "
        "(flagged when the lower bound of the 90% bootstrap interval of the excess is above the limit, a "
        "reference below chance counted as 0.5); **old**: mean AUC over one 3-fold split, flagged when the point "
        "excess is above the limit. `real` pools are real frauds of the held-out period and should pass; "
        "`shuffled` / `shifted` / `uniform` should be flagged.",
        "",
    ]
    for table, g in df.groupby("table", sort=False):
        lines += [
            f"## {table}",
            "",
            "| held-out frauds | median reference AUC (new / old) | reference below 0.5 "
            "(old) | " + " | ".join(f"{p}: flagged new / old" for p in (*GOOD, *BAD)) + " |",
            "|---:|---|---:|" + "---|" * (len(GOOD) + len(BAD)),
        ]
        for n, h in g.groupby("n_holdout"):
            ref = h.drop_duplicates("draw")
            cells = []
            for p in (*GOOD, *BAD):
                q = h[h["pool"] == p]
                cells.append(f"{int(q['flagged'].sum())}/{len(q)} / {int(q['flagged_old'].sum())}/{len(q)}")
            lines.append(
                f"| {n} | {ref['reference_auc'].median():.2f} / {ref['reference_auc_old'].median():.2f} | "
                f"{int((ref['reference_auc_old'] < 0.5).sum())}/{len(ref)} | " + " | ".join(cells) + " |"
            )
        good = g[g["pool"].isin(GOOD)]
        lines += [
            "",
            f"Real-frauds pools: median excess {good['excess'].median():+.3f} (lower bound "
            f"{good['excess_lo'].median():+.3f}); bad pools: median lower bound "
            f"{g[g['pool'].isin(BAD)]['excess_lo'].median():+.3f}.",
            "",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    draws = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    start, load_start = time.perf_counter(), loadavg()
    rows = trials("linked (no drift, 300 seed frauds)", LINKED, None, None, draws)
    schema, train_frauds, valid_frauds = builtin()
    rows += trials(
        f"built-in simulator (time split: 300 of {len(train_frauds)} training frauds as the seed set, "
        f"held-out and 'real' pools from the {len(valid_frauds)} validation frauds)",
        schema,
        train_frauds,
        valid_frauds,
        draws,
    )
    import os

    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "draws": draws,
        "sizes": SIZES,
        "seed_rows": SEED_ROWS,
        "limit": LIMIT,
        "seconds": time.perf_counter() - start,
        "load_start": load_start,
        "load_end": loadavg(),
        "cpus": os.cpu_count(),
        "versions": versions(("xgboost-cpu", "scikit-learn")),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gate_noise.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (RESULTS / "gate_noise.md").write_text(markdown(pd.DataFrame(rows), meta))
    print((RESULTS / "gate_noise.md").read_text())


if __name__ == "__main__":
    main()
