"""Which CTGAN / TVAE settings suit small seed sets? Measured, not folklore.

For seed sets of 100, 300 and 1,000 frauds (random draws from the built-in simulator's training
frauds) each setting is fitted (fit seeds 0 and 1) and its pool judged by the calibrated quality gate
(`pipeline.quality.gate.assess_pool`) against the validation split's real frauds:

* detection AUC excess: how much easier the pool is to tell from the seed frauds than real new frauds
  are (lower is better; the gate flags above 0.1);
* quality score drop: real new frauds' SDMetrics quality score minus the pool's (lower is better).

Settings (batch size, epochs, PAC): the shipped defaults (500, 150, 10); a smaller batch (100); the
same number of gradient steps at every seed-set size (epochs = 1,500 steps x batch / n); and, for
CTGAN, PAC 1 with the steps scaling. Results: `tests/bench/results/small_seeds.{json,md}`.

Run: `.venv/bin/python tests/bench/small_seeds.py` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import json
import math
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
from pipeline.core.schema import Schema  # noqa: E402
from pipeline.generators.registry import make_generator  # noqa: E402
from pipeline.quality.gate import assess_pool, threshold_keys  # noqa: E402
from tests.bench.benchlib import loadavg, versions  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results"
SIZES = (100, 300, 1000)
FIT_SEEDS = (0, 1)
STEPS = 1500


def settings(kind: str, n: int) -> dict[str, dict]:
    scaled = max(150, math.ceil(STEPS * 100 / n))
    out = {
        "default (batch 500, 150 epochs)": {"batch_size": 500, "epochs": 150},
        "batch 100, 150 epochs": {"batch_size": 100, "epochs": 150},
        f"batch 100, {STEPS} steps ({scaled} epochs)": {"batch_size": 100, "epochs": scaled},
    }
    if kind == "ctgan":
        for v in out.values():
            v["pac"] = 10
        out[f"batch 100, {STEPS} steps, pac 1"] = {"batch_size": 100, "epochs": scaled, "pac": 1}
    return out


def prepared() -> tuple[Schema, pd.DataFrame, pd.DataFrame]:
    """The built-in data, prepared once in a temporary project (the shipped params)."""
    from pipeline.stages import prepare

    tmp = Path(tempfile.mkdtemp(prefix="small_seeds_"))
    (tmp / "data" / "raw").mkdir(parents=True)
    params = load_params(ROOT / "params.yaml")  # the shipped data settings (time column, ids, meta)
    paths = Paths.at(tmp)
    prepare.run(params, paths)
    schema = Schema.load(paths.schema)
    return (
        schema,
        schema.seed_set(pd.read_parquet(paths.split("train"))),
        schema.seed_set(pd.read_parquet(paths.split("valid"))),
    )


def main() -> None:
    schema, seed_all, holdout = prepared()
    limits = {k: defaults()["quality"][k] for k in threshold_keys()}
    rows = []
    load_start = loadavg()
    for n in SIZES:
        idx = np.sort(np.random.default_rng(n).choice(len(seed_all), size=min(n, len(seed_all)), replace=False))
        seed = seed_all.iloc[idx].reset_index(drop=True)
        for kind in ("ctgan", "tvae"):
            for name, hp in settings(kind, n).items():
                for fit_seed in FIT_SEEDS:
                    t0 = time.perf_counter()
                    gen = make_generator(kind, {**hp, "verbose": False}).fit(seed, schema, seed=fit_seed)
                    fit_s = time.perf_counter() - t0
                    pool = gen.sample(max(n, 300), seed=0)
                    q = assess_pool(seed, pool, holdout, schema, limits, seed=0)
                    rows.append(
                        {
                            "n": n,
                            "generator": kind,
                            "setting": name,
                            "fit_seed": fit_seed,
                            "batch_size_used": gen.fit_info.get("batch_size_used"),
                            **hp,
                            "fit_s": round(fit_s, 1),
                            "detection_auc": q["detection_auc"],
                            "detection_auc_excess": q["detection_auc_excess"],
                            "quality_score": q["quality_score"],
                            "quality_score_drop": q["quality_score_drop"],
                            "dcr_ratio": q["dcr_ratio"],
                            "passed": q["passed"],
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "sizes": SIZES,
        "fit_seeds": FIT_SEEDS,
        "holdout_frauds": len(holdout),
        "load_start": load_start,
        "load_end": loadavg(),
        "versions": versions(("sdv", "ctgan", "torch")),
    }
    (RESULTS / "small_seeds.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    df = pd.DataFrame(rows)
    agg = (
        df.groupby(["generator", "n", "setting"], sort=False)
        .agg(
            detection_auc_excess=("detection_auc_excess", "mean"),
            quality_drop=("quality_score_drop", "mean"),
            dcr_ratio=("dcr_ratio", "mean"),
            fit_s=("fit_s", "mean"),
        )
        .reset_index()
    )
    lines = [
        "# CTGAN / TVAE settings on small seed sets",
        "",
        f"Built-in simulator, seed sets drawn from its {len(seed_all)} training frauds; pools judged against its "
        f"{len(holdout)} validation frauds by the calibrated gate; mean over fit seeds {list(FIT_SEEDS)}. "
        f"Load average {meta['load_start']} -> {meta['load_end']}.",
        "",
        "| generator | seed frauds | setting | detection AUC excess | quality drop | DCR ratio | fit s |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for _, r in agg.iterrows():
        lines.append(
            f"| {r['generator']} | {r['n']} | {r['setting']} | {r['detection_auc_excess']:.3f} | "
            f"{r['quality_drop']:.3f} | {r['dcr_ratio']:.2f} | {r['fit_s']:.1f} |"
        )
    (RESULTS / "small_seeds.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
