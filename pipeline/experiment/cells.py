"""Cells: the same comparison rerun on a cut of the training data (the scarcity sweep, the unseen-variant test).

A cell fits a generator on the frauds of its cut training rows (`fit_generator`), samples a pool, and trains the
real-only and augmented detectors on the cut (`cell_hits`, one unit of work per detector on the compute backend).
Each detector is summarised by which real test frauds it alerts at the headline budget, thresholds from the
validation legitimate rows, so the paired bootstrap (`pipeline.experiment.metrics.paired_bootstrap`) can compare any two
detectors on any subset of test frauds afterwards. Hits travel and are stored as strings of 0/1 (`bits`).

`pipeline.core.cache.ResultCache` keeps finished cells on disk under a key that hashes everything they depend on (the
prepared splits' bytes, the cell's settings, the pipeline's code), so a stage that owns many cells reruns only the
cells whose inputs changed: widening a list of params reuses the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.schema import Schema
from pipeline.experiment.blend import blend
from pipeline.experiment.detector import predict_scores, train_detector
from pipeline.experiment.metrics import threshold_at_fpr


def bits(hits: np.ndarray) -> str:
    return "".join("1" if h else "0" for h in hits)


def unbits(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8) == ord("1")


def fit_generator(gen_type: str, hyperparameters: dict[str, Any], rows: pd.DataFrame, schema: Schema, seed: int):
    """Generator `gen_type` fitted on the frauds of `rows` (its seed set); oversamplers see `rows`' legitimate rows
    as their neighbours. Raises what the generator raises (the caller decides whether that fails a cell)."""
    from pipeline.generators.registry import make_generator

    gen = make_generator(gen_type, hyperparameters)
    label = schema.label
    gen.fit(schema.seed_set(rows), schema, train=pd.concat([schema.conform(rows), rows[[label]]], axis=1), seed=seed)
    return gen


def cell_hits(
    unit: tuple[float | None, int],
    *,
    sub: pd.DataFrame,
    pool: pd.DataFrame | None,
    schema: Schema,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    X_test_fraud: pd.DataFrame,
    detector: dict[str, Any],
    budget: float,
) -> str:
    """One detector of a cell (real-only when share is None): trained on `sub` (plus `share` synthetic frauds from
    `pool`), early-stopped on the validation rows given, thresholded at `budget` on their legitimate rows; which
    of `X_test_fraud` it alerts."""
    share, seed = unit
    label = schema.label
    if share is None:
        data = sub
    else:
        assert pool is not None, "an augmented detector needs its pool"
        data = blend(sub, pool, share, seed=seed, label=label)[0]
    model, _ = train_detector(
        schema.to_model_frame(data), data[label].to_numpy(), X_valid, y_valid, detector, seed=seed
    )
    t = threshold_at_fpr(predict_scores(model, X_valid)[y_valid == 0], budget)
    return bits(predict_scores(model, X_test_fraud) >= t)
