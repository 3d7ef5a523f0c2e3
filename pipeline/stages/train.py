"""Stage `train`: XGBoost detectors for every (generator, share, fit seed, detector seed) plus both baselines.

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
from pipeline.io import write_json
from pipeline.paths import Paths
from pipeline.reports import failed_checks, load_generator_reports
from pipeline.schema import Schema
from pipeline.targeting import pool_names, split_name


def excluded_generators(params: dict[str, Any], paths: Paths) -> dict[str, str]:
    """Pools left out of training, with the reason: a targeted pool the generator could not make, and (when
    quality.exclude_failed is true) pools that failed the quality gate (any fit's pool)."""
    fit_seeds = params["augment"]["fit_seeds"]
    for name in params["generators"]:
        for f in fit_seeds:
            if not paths.quality_report(name, f).exists():
                raise DataError(f"{paths.quality_report(name, f)} not found; run the sample stage for {name} "
                                f"(dvc repro sample@{name}-{f})")
    out = {}
    for name, report in load_generator_reports(pool_names(params), paths, "quality", fit_seeds).items():
        failed = [r["failed"] for r in (report.get("per_fit") or {"": report}).values() if r.get("failed")]
        if failed:  # a targeted pool the generator could not make (sample@G-F said why)
            out[name] = "could not be sampled: " + failed[0]
        elif params["quality"]["exclude_failed"] and not report.get("passed", True):
            out[name] = "failed quality checks: " + ", ".join(failed_checks(report))
    return out


def _read_pool(paths: Paths, name: str, fit_seed: int) -> pd.DataFrame:
    generator, targeted = split_name(name)
    path = (paths.targeted_pool if targeted else paths.pool)(generator, fit_seed)
    if not path.exists():
        raise DataError(f"{path} not found; run the sample stage (dvc repro sample@{generator}-{fit_seed})")
    return pd.read_parquet(path)


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    schema = Schema.load(paths.schema)
    train = pd.read_parquet(paths.split("train"))
    valid = pd.read_parquet(paths.split("valid"))
    label = schema.label
    X_valid, y_valid = schema.to_model_frame(valid), valid[label].to_numpy()
    excluded = excluded_generators(params, paths)
    grid = build_grid(params, excluded=set(excluded))
    fit_seeds = params["augment"]["fit_seeds"]
    pools = {(name, f): _read_pool(paths, name, f) for name in {c.generator for c in grid if c.generator}
             for f in fit_seeds}
    n_fraud = int(train[label].sum())
    n_legit = len(train) - n_fraud
    det = params["detector"]
    records = []
    t_start = time.perf_counter()
    # every (arm, generator fit, detector seed); the baselines have no generator, so no fit
    units = [(arm, f if arm.kind == AUGMENTED else None, seed)
             for arm in grid for f in (fit_seeds if arm.kind == AUGMENTED else [None]) for seed in det["seeds"]]
    for done, (arm, fit, seed) in enumerate(units, start=1):
        if arm.kind == AUGMENTED:
            data, synthetic = blend(train, pools[(arm.generator, fit)], arm.share, seed=seed, label=label)
        else:
            data, synthetic = train, np.zeros(len(train), dtype=bool)
        spw = n_legit / n_fraud if arm.kind == REWEIGHT else None
        model, info = train_detector(schema.to_model_frame(data), data[label].to_numpy(), X_valid, y_valid,
                                     det, seed=seed, scale_pos_weight=spw)
        rel = f"{arm.dirname}/seed{seed}.json" if fit is None else f"{arm.dirname}/fit{fit}/seed{seed}.json"
        save_detector(model, paths.detectors / rel)
        n_syn = int(synthetic.sum())
        records.append({
            "config": arm.id, "title": arm.title, "kind": arm.kind, "generator": arm.generator,
            "share": arm.share, "fit_seed": fit, "seed": seed, "model": rel, "rows": len(data),
            "n_real_fraud": n_fraud, "n_synthetic": n_syn, "n_legit": n_legit, **info,
        })
        which = f"seed {seed}" if fit is None else f"fit {fit} seed {seed}"
        print(f"train [{done}/{len(units)}] {arm.title:<28} {which}: {n_syn:>5} synthetic rows, "
              f"best iteration {info['best_iteration']:>3}, valid AP {info['valid_aucpr']:.3f}, "
              f"{info['fit_seconds']:.1f}s", flush=True)
    report = {
        "detectors": records,
        "excluded_generators": excluded,
        "seeds": det["seeds"],
        "fit_seeds": fit_seeds,
        "shares": params["augment"]["shares"],
        "generators": pool_names(params),
        "train_rows": len(train),
        "train_frauds": n_fraud,
        "valid_rows": len(valid),
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    write_json(paths.train_report, report)
    return report
