"""`detector.engine: dask`: detectors trained and scored over a Dask cluster on data no process holds whole.

Training rows are read as a Dask DataFrame from a split's Parquet parts (`data.partition_rows`; a single file is
one partition), turned into model features part by part (`Schema.to_model_frame`: every categorical gets the
categories recorded at prepare, so Dask knows them before reading any row), and the synthetic rows of an augmented
arm are appended as more partitions (`blend.draw_synthetic`: the same rows the xgboost engine adds). XGBoost's
`DaskXGBClassifier` trains on the workers' parts (native categoricals: `enable_categorical=True`, which xgboost
3.2's `DaskDMatrix` leaves off by default) with early stopping on the real validation rows. Rows that start in
pandas (validation, synthetic) are spread so that every worker holding training parts gets some: xgboost.dask
refuses a worker whose input is empty when features are categorical. The fitted booster is
saved like any detector, so evaluate, publish and serving load it the same way; scoring a split runs
`predict_proba` on each part on the workers and gathers only the scores (8 bytes per row).

What pandas still holds whole in this engine: the validation rows in `train` (early stopping needs them), the
seed set of generators (the training frauds) and the synthetic pools. The training split's legitimate rows - nearly
all rows - are only ever read by workers, and `evaluate` reads the validation and test splits out of core
(`pipeline.experiment.out_of_core`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.schema import Schema
from pipeline.data.samples import keep_rows, row_weights
from pipeline.experiment.detector import check_validation_labels, classifier_settings, fit_info


def read_split(path: str | Path, schema: Schema, columns: list[str] | None = None):
    """A split (one Parquet file or a folder of parts) as a Dask DataFrame, one partition per part."""
    import dask.dataframe as dd

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} not found; run the prepare stage (dvc repro prepare)")
    source = sorted(str(p) for p in path.glob("part-*.parquet")) if path.is_dir() else str(path)
    # blocksize=None: one partition per part, whichever columns are read (Dask would otherwise merge parts by
    # the size of the columns read, and the features and the label of the same rows would be split differently)
    return dd.read_parquet(source, columns=columns, blocksize=None)


def _keep_part(part: pd.DataFrame, label: str, fraction: float, seed: int, partition_info=None) -> pd.DataFrame:
    """One part's rows detectors train on with `data.legit_fraction` (`samples.keep_rows`, seeded by the part's number:
    the same rows the xgboost engine reads)."""
    number = partition_info["number"] if partition_info else 0
    return part.loc[keep_rows(part[label].to_numpy(), number, fraction, seed)]


def sampled(ddf, label: str, fraction: float, seed: int):
    """The training split with only the rows `data.legit_fraction` keeps (the whole split when it is 1)."""
    if fraction >= 1.0:
        return ddf
    return ddf.map_partitions(_keep_part, label, fraction, seed, meta=ddf._meta)


def _weight_part(part: pd.DataFrame, label: str, fraction: float) -> pd.Series:
    return pd.Series(row_weights(part[label].to_numpy(), fraction), index=part.index, name="weight")


def weights(ddf, label: str, fraction: float):
    """Each kept training row's weight (`samples.row_weights`); None when every row is kept."""
    if fraction >= 1.0:
        return None
    return ddf.map_partitions(_weight_part, label, fraction, meta=pd.Series(dtype="float64", name="weight"))


def _model_part(part: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    return schema.to_model_frame(part)


def model_frame(ddf, schema: Schema):
    """(features as model columns, label) of a Dask DataFrame; categories known up front (from the schema)."""
    meta = schema.to_model_frame(ddf._meta)
    X = ddf.map_partitions(_model_part, schema, meta=meta)
    y = ddf.map_partitions(_label_part, schema.label, meta=pd.Series(dtype="int64", name=schema.label))
    return X, y


def _label_part(part: pd.DataFrame, label: str) -> pd.Series:
    return part[label].astype("int64")


def count_frauds(y) -> tuple[int, int]:
    """(rows, frauds) of a (persisted) Dask label series, computed on the workers."""
    import dask

    rows, frauds = dask.compute(y.size, y.sum())
    return int(rows), int(frauds)


def holders(client, X) -> list[str]:
    """The workers holding parts of a persisted collection, in a fixed order."""
    from distributed import futures_of, wait

    futures = futures_of(X)
    wait(futures)
    who = client.who_has(futures)
    return sorted({w for ws in who.values() for w in ws})


def spread(client, frame: pd.DataFrame | pd.Series, workers: list[str]):
    """A pandas frame as a Dask collection with one non-empty part on each of `workers` (fewer when it has fewer
    rows): xgboost.dask trains on the workers holding data, and each of them needs rows of every input - with
    categorical features it refuses a worker whose evaluation rows are empty."""
    import dask.dataframe as dd

    k = max(1, min(len(workers), len(frame)))
    bounds = np.linspace(0, len(frame), k + 1).astype(int)
    parts = [
        client.scatter(frame.iloc[a:b], workers=[w], hash=False)
        for (a, b), w in zip(zip(bounds[:-1], bounds[1:]), workers)
    ]
    return dd.from_delayed(parts, meta=frame.iloc[:0], verify_meta=False)


def with_synthetic(client, X, y, synthetic: pd.DataFrame, schema: Schema, workers: list[str], w=None):
    """X, y (and the weights `w`, when given: 1 for synthetic rows) plus the synthetic rows as more partitions, spread
    over `workers` (nothing added when there are none)."""
    import dask.dataframe as dd

    if synthetic.empty:
        return X, y, w
    X_syn = spread(client, schema.to_model_frame(synthetic), workers)
    y_syn = spread(client, synthetic[schema.label].astype("int64").rename(schema.label), workers)
    if w is not None:
        w_syn = spread(client, pd.Series(np.ones(len(synthetic)), name="weight"), workers)
        w = dd.concat([w, w_syn], interleave_partitions=False)
    return dd.concat([X, X_syn], interleave_partitions=False), dd.concat([y, y_syn], interleave_partitions=False), w


def train_detector(
    client,
    X,
    y,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    params: dict[str, Any],
    seed: int,
    scale_pos_weight: float | None = None,
    workers: list[str] | None = None,
    sample_weight=None,
) -> tuple[Any, dict]:
    """Fit one detector with xgboost.dask on the cluster; early stopping on the real validation rows, spread over
    `workers` (those holding the training parts: `holders`). Returns a plain `XGBClassifier` (saved and loaded
    like the xgboost engine's) and the same info dict."""
    from xgboost import XGBClassifier
    from xgboost.dask import DaskXGBClassifier

    check_validation_labels(y_valid)
    workers = workers or holders(client, X)
    # the xgboost engine's settings; n_jobs 1: each worker trains on its parts with one thread
    clf = DaskXGBClassifier(**{**classifier_settings(params, seed, scale_pos_weight), "n_jobs": 1})
    clf.client = client
    Xv = spread(client, X_valid, workers)
    yv = spread(client, pd.Series(np.asarray(y_valid), name="label"), workers)
    t0 = time.perf_counter()
    clf.fit(X, y, sample_weight=sample_weight, eval_set=[(Xv, yv)], verbose=False)
    info = fit_info(clf, time.perf_counter() - t0)
    model = XGBClassifier(enable_categorical=True)
    model.load_model(bytearray(clf.get_booster().save_raw("json")))
    return model, info


def _score_part(part: pd.DataFrame, model: Any, schema: Schema) -> pd.Series:
    from pipeline.experiment.detector import predict_scores

    return pd.Series(predict_scores(model, schema.to_model_frame(part)), index=part.index, dtype="float64")


def score_split(ddf, models: list[Any], schema: Schema) -> list[np.ndarray]:
    """Each model's fraud scores of every row of `ddf`, in row order; `predict_proba` runs on the workers part by
    part and only the scores come back. The parts are read once for all the models."""
    import dask

    series = [ddf.map_partitions(_score_part, m, schema, meta=pd.Series(dtype="float64")) for m in models]
    return [np.asarray(s, dtype="float64") for s in dask.compute(*series)]
