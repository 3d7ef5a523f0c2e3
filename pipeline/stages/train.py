"""Stage `train`: XGBoost detectors for every (generator, share, fit seed, detector seed) plus both baselines.

Reads only the TRAIN and VALID splits and the synthetic pools: the test rows never enter this
stage. Early stopping uses the real validation rows. With `detector.engine: xgboost` each detector is one unit of
work on the compute backend (`pipeline.core.compute`: in parallel on a Dask cluster, identical results); with `dask`
each detector trains over the whole cluster on the training split's Parquet parts (`pipeline.experiment.engine_dask`).
The detectors are written together once every one has trained.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.compute import announce, open_backend
from pipeline.core.errors import DataError
from pipeline.core.files import atomic_dir, write_bytes, write_json
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.data.samples import label_counts, read_training
from pipeline.experiment.blend import blend, draw_synthetic
from pipeline.experiment.detector import detector_bytes, train_detector
from pipeline.experiment.grid import AUGMENTED, REWEIGHT
from pipeline.experiment.plan import build_plan
from pipeline.generators.targeting import split_name


def _read_pool(paths: Paths, name: str, fit_seed: int) -> pd.DataFrame:
    generator, targeted = split_name(name)
    path = (paths.targeted_pool if targeted else paths.pool)(generator, fit_seed)
    if not path.exists():
        raise DataError(f"{path} not found; run the sample stage (dvc repro sample@{generator}-{fit_seed})")
    return pd.read_parquet(path)


def _fit_unit(
    unit: tuple,
    *,
    train: pd.DataFrame,
    pools: dict,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    schema: Schema,
    det: dict[str, Any],
    n_fraud: int,
    n_legit: int,
    weights: np.ndarray | None = None,
) -> tuple[bytes, dict, int, int]:
    """One detector (`detector.engine: xgboost`): (model file bytes, info, training rows, synthetic rows). Runs
    in the stage's process or on a Dask worker (`pipeline.core.compute`); everything random is seeded by the unit."""
    arm, fit, seed = unit
    label = schema.label
    if arm.kind == AUGMENTED:
        data, synthetic = blend(train, pools[(arm.generator, fit)], arm.share, seed=seed, label=label)
    else:
        data, synthetic = train, np.zeros(len(train), dtype=bool)
    spw = n_legit / n_fraud if arm.kind == REWEIGHT else None
    w = None if weights is None else np.r_[weights, np.ones(int(synthetic.sum()))]
    model, info = train_detector(
        schema.to_model_frame(data),
        data[label].to_numpy(),
        X_valid,
        y_valid,
        det,
        seed=seed,
        scale_pos_weight=spw,
        sample_weight=w,
    )
    return detector_bytes(model), info, len(data), int(synthetic.sum())


def _fit_dask(
    units: list[tuple],
    backend,
    paths: Paths,
    schema: Schema,
    pools: dict,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    det: dict[str, Any],
    on_result,
    sample: tuple[float, int],
    n_legit: int,
) -> list:
    """Every detector with `detector.engine: dask`, one after another, each over the whole cluster. `sample`:
    (data.legit_fraction, its seed); `n_legit`: the split's legitimate rows, all of them (the reweight baseline)."""
    from pipeline.experiment import engine_dask

    client = backend.client
    fraction, sample_seed = sample
    ddf = engine_dask.sampled(engine_dask.read_split(paths.split("train"), schema), schema.label, fraction, sample_seed)
    X, y = engine_dask.model_frame(ddf, schema)
    w = engine_dask.weights(ddf, schema.label, fraction)
    # read the parts once, spread over the workers, for every detector
    X, y, w = client.persist([X, y, w]) if w is not None else (*client.persist([X, y]), None)
    rows, n_fraud = engine_dask.count_frauds(y)
    workers = engine_dask.holders(client, X)
    print(
        f"train: {rows} training rows in {ddf.npartitions} Parquet part(s) on {len(workers)} worker(s)"
        + ("; set data.partition_rows to spread them over more workers" if ddf.npartitions < 2 else ""),
        flush=True,
    )
    results = []
    for i, (arm, fit, seed) in enumerate(units):
        syn = (
            draw_synthetic(pools[(arm.generator, fit)], n_fraud, arm.share, seed, schema.label)
            if arm.kind == AUGMENTED
            else pd.DataFrame()
        )
        Xa, ya, wa = engine_dask.with_synthetic(client, X, y, syn, schema, workers, w)
        spw = n_legit / n_fraud if arm.kind == REWEIGHT else None
        model, info = engine_dask.train_detector(
            client, Xa, ya, X_valid, y_valid, det, seed=seed, scale_pos_weight=spw, workers=workers, sample_weight=wa
        )
        results.append((detector_bytes(model), info, rows + len(syn), len(syn)))
        on_result(i, results[-1])
    return results


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    schema = Schema.load(paths.schema)
    valid = pd.read_parquet(paths.split("valid"))
    label = schema.label
    X_valid, y_valid = schema.to_model_frame(valid), valid[label].to_numpy()
    plan = build_plan(params, paths)
    pools = {(name, f): _read_pool(paths, name, f) for name in plan.blended_pools for f in plan.fit_seeds}
    det = params["detector"]
    t_start = time.perf_counter()
    units = plan.units()
    finished = []

    def progress(i: int, result: tuple) -> None:
        arm, fit, seed = units[i]
        _, info, _, n_syn = result
        finished.append(i)
        which = f"seed {seed}" if fit is None else f"fit {fit} seed {seed}"
        print(
            f"train [{len(finished)}/{len(units)}] {arm.title:<28} {which}: {n_syn:>5} synthetic rows, "
            f"best iteration {info['best_iteration']:>3}, valid AP {info['valid_aucpr']:.3f}, "
            f"{info['fit_seconds']:.1f}s",
            flush=True,
        )

    # data.legit_fraction: every fraud and a seeded share of the legitimate rows, weighted (pipeline/data/samples.py)
    fraction, sample_seed = params["data"]["legit_fraction"], params["split"]["seed"]
    counts = label_counts(paths.split("train"), label)
    n_rows, n_fraud = sum(r for r, _ in counts), sum(f for _, f in counts)
    with open_backend(params) as backend:
        if det["engine"] == "dask":
            print(f"compute: {len(units)} detectors with xgboost.dask, each over the {backend.describe}", flush=True)
            results = _fit_dask(
                units,
                backend,
                paths,
                schema,
                pools,
                X_valid,
                y_valid,
                det,
                progress,
                sample=(fraction, sample_seed),
                n_legit=n_rows - n_fraud,
            )
        else:
            train, weights = read_training(paths.split("train"), label, fraction, sample_seed)
            announce(backend, len(units), "detector")
            shared = {
                "train": train,
                "pools": pools,
                "X_valid": X_valid,
                "y_valid": y_valid,
                "schema": schema,
                "det": det.copy(),
                "n_fraud": n_fraud,
                "n_legit": n_rows - n_fraud,
                "weights": weights,
            }
            results = backend.map(
                _fit_unit,
                units,
                shared,
                what="detector",
                name=lambda u: f"{u[0].title} fit {u[1]} seed {u[2]}",
                on_result=progress,
            )
    n_legit = n_rows - n_fraud
    records = []
    # the detectors are written only now, all at once: a failed unit leaves no partial models/detectors
    with atomic_dir(paths.detectors) as staging:
        for (arm, fit, seed), (model_bytes, info, rows, n_syn) in zip(units, results):
            rel = f"{arm.dirname}/seed{seed}.json" if fit is None else f"{arm.dirname}/fit{fit}/seed{seed}.json"
            write_bytes(staging / rel, model_bytes)
            records.append(
                {
                    "config": arm.id,
                    "title": arm.title,
                    "kind": arm.kind,
                    "generator": arm.generator,
                    "share": arm.share,
                    "fit_seed": fit,
                    "seed": seed,
                    "model": rel,
                    "rows": rows,
                    "n_real_fraud": n_fraud,
                    "n_synthetic": n_syn,
                    "n_legit": n_legit,
                    **info,
                }
            )
    report = {
        "detectors": records,
        **plan.record(),
        "engine": det["engine"],
        "train_rows": n_rows,
        "train_frauds": n_fraud,
        # data.legit_fraction: the share of legitimate training rows the detectors trained on (weighted 1/fraction)
        "legit_fraction": fraction,
        "train_rows_used": int(records[0]["rows"] - records[0]["n_synthetic"]) if records else n_rows,
        "valid_rows": len(valid),
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    write_json(paths.train_report, report)
    return report
