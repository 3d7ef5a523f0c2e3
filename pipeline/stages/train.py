"""Stage `train`: XGBoost detectors for every (generator, share, seed) plus both baselines.

Reads only the TRAIN and VALID splits and the synthetic pools: the test rows never enter this
stage. Early stopping uses the real validation rows.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from pipeline.blend import blend
from pipeline.detector import save_detector, train_detector
from pipeline.errors import DataError
from pipeline.grid import AUGMENTED, REWEIGHT, build_grid
from pipeline.io import read_json, write_json
from pipeline.paths import Paths
from pipeline.reports import failed_checks
from pipeline.schema import Schema


def excluded_generators(params: dict[str, Any], paths: Paths) -> dict[str, str]:
    """Generators whose pool failed the quality gate, when quality.exclude_failed is true."""
    out = {}
    for name in params["generators"]:
        q = paths.quality_report(name)
        if not q.exists():
            raise DataError(f"{q} not found; run the sample stage for {name} (dvc repro sample@{name})")
        report = read_json(q)
        if params["quality"]["exclude_failed"] and not report.get("passed", True):
            out[name] = "failed quality checks: " + ", ".join(failed_checks(report))
    return out


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    schema = Schema.load(paths.schema)
    train = pd.read_parquet(paths.split("train"))
    valid = pd.read_parquet(paths.split("valid"))
    label = schema.label
    X_valid, y_valid = schema.to_model_frame(valid), valid[label].to_numpy()
    excluded = excluded_generators(params, paths)
    grid = build_grid(params, excluded=set(excluded))
    pools = {name: pd.read_parquet(paths.pool(name)) for name in {c.generator for c in grid if c.generator}}
    n_fraud = int(train[label].sum())
    n_legit = len(train) - n_fraud
    det = params["detector"]
    records = []
    t_start = time.perf_counter()
    total = len(grid) * len(det["seeds"])
    done = 0
    for arm in grid:
        for seed in det["seeds"]:
            if arm.kind == AUGMENTED:
                data, synthetic = blend(train, pools[arm.generator], arm.share, seed=seed, label=label)
            else:
                data, synthetic = train, np.zeros(len(train), dtype=bool)
            spw = n_legit / n_fraud if arm.kind == REWEIGHT else None
            model, info = train_detector(schema.to_model_frame(data), data[label].to_numpy(), X_valid, y_valid,
                                         det, seed=seed, scale_pos_weight=spw)
            rel = f"{arm.dirname}/seed{seed}.json"
            save_detector(model, paths.detectors / rel)
            done += 1
            n_syn = int(synthetic.sum())
            records.append({
                "config": arm.id, "title": arm.title, "kind": arm.kind, "generator": arm.generator,
                "share": arm.share, "seed": seed, "model": rel, "rows": len(data),
                "n_real_fraud": n_fraud, "n_synthetic": n_syn, "n_legit": n_legit, **info,
            })
            print(f"train [{done}/{total}] {arm.title:<28} seed {seed}: {n_syn:>5} synthetic rows, "
                  f"best iteration {info['best_iteration']:>3}, valid AP {info['valid_aucpr']:.3f}, "
                  f"{info['fit_seconds']:.1f}s", flush=True)
    report = {
        "detectors": records,
        "excluded_generators": excluded,
        "seeds": det["seeds"],
        "shares": params["augment"]["shares"],
        "generators": list(params["generators"]),
        "train_rows": len(train),
        "train_frauds": n_fraud,
        "valid_rows": len(valid),
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    write_json(paths.train_report, report)
    return report
