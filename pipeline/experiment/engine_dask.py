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

What pandas still holds whole in this engine: the validation rows (early stopping and thresholds need them),
the seed set of generators (the training frauds), the synthetic pools, and in `evaluate` the test split's rows
(segments, review queue). The training split's legitimate rows - nearly all rows - are only ever read by workers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.schema import Schema
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


def with_synthetic(client, X, y, synthetic: pd.DataFrame, schema: Schema, workers: list[str]):
    """X, y plus the synthetic rows as more partitions, spread over `workers` (nothing added when there are none)."""
    import dask.dataframe as dd

    if synthetic.empty:
        return X, y
    X_syn = spread(client, schema.to_model_frame(synthetic), workers)
    y_syn = spread(client, synthetic[schema.label].astype("int64").rename(schema.label), workers)
    return dd.concat([X, X_syn], interleave_partitions=False), dd.concat([y, y_syn], interleave_partitions=False)


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
    clf.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
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


# ---------------------------------------------------------------------------- out-of-core evaluate

#: a row's position: its part's number in the high bits, its place in the part in the low ones (row order)
_ROW_BITS = 32


def _models_of(blobs: list[bytes]) -> list[Any]:
    from pipeline.experiment.detector import detector_from_bytes

    return [detector_from_bytes(b) for b in blobs]


def _scores_part(part: pd.DataFrame, models: list[Any], schema: Schema, partition_info=None) -> pd.DataFrame:
    """A part's rows as (row position, label, one score column per model)."""
    from pipeline.experiment.detector import predict_scores

    number = partition_info["number"] if partition_info else 0
    out = {
        "row": (np.int64(number) << _ROW_BITS) + np.arange(len(part), dtype=np.int64),
        "label": part[schema.label].to_numpy().astype(np.int8),
    }
    X = schema.to_model_frame(part)
    for i, m in enumerate(models):
        out[f"s{i}"] = predict_scores(m, X) if len(part) else np.empty(0)
    return pd.DataFrame(out)


def _top_rows(score: np.ndarray, row: np.ndarray, k: int) -> np.ndarray:
    """Positions (into `score`) of the k highest scores, ties by row: (score descending, row ascending)."""
    if score.size > k:
        kth = np.partition(score, score.size - k)[score.size - k] if k else np.inf
        at = np.flatnonzero(score >= kth)  # every tie of the k-th highest
    else:
        at = np.arange(score.size)
    return at[np.lexsort((row[at], -score[at]))[:k]]


def _candidates(model: np.ndarray, score: np.ndarray, row: np.ndarray, label: np.ndarray, k: int) -> pd.DataFrame:
    """Of long rows (model, score, row, label): every fraud row and each model's k top legit rows."""
    keep = []
    for i in np.unique(model):
        of = np.flatnonzero(model == i)
        legit = of[label[of] == 0]
        keep += [of[label[of] == 1], legit[_top_rows(score[legit], row[legit], k)]]
    at = np.concatenate(keep) if keep else np.empty(0, dtype=np.intp)
    return pd.DataFrame({"model": model[at], "score": score[at], "row": row[at], "label": label[at]})


def _head_chunk(frame: pd.DataFrame, n_models: int, k: int) -> pd.DataFrame:
    n = len(frame)
    return _candidates(
        np.repeat(np.arange(n_models, dtype=np.int32), n),
        np.concatenate([frame[f"s{i}"].to_numpy() for i in range(n_models)]) if n_models else np.empty(0),
        np.tile(frame["row"].to_numpy(), n_models),
        np.tile(frame["label"].to_numpy(), n_models),
        k,
    )


def _head_combine(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    cols = [frame[c].to_numpy() for c in ("model", "score", "row", "label")]
    return _candidates(*cols, k)


def _count_chunk(frame: pd.DataFrame, queries: list[np.ndarray]) -> pd.DataFrame:
    """Per model, its legit rows scoring >= and > each of its query scores (one index over all models' queries)."""
    legit = frame["label"].to_numpy() == 0
    ge, gt = [], []
    for i, q in enumerate(queries):
        s = np.sort(frame[f"s{i}"].to_numpy()[legit])
        ge.append(s.size - np.searchsorted(s, q, side="left"))
        gt.append(s.size - np.searchsorted(s, q, side="right"))
    return pd.DataFrame({"ge": np.concatenate(ge).astype(np.int64), "gt": np.concatenate(gt).astype(np.int64)})


def _count_sum(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(level=0).sum()


def summarize_split(ddf, blobs: list[bytes], schema: Schema, top, thresholds=None) -> list:
    """Each model's `metrics.ScoreSummary` of the split `ddf` (from `read_split`), computed on the workers: every
    part is read and scored once by every model (the scores stay on the workers, 8 bytes per row and model), then
    two tree reductions bring back only the fraud rows' scores and each model's `top(n_legit)` highest legit scores,
    and the legit rows at or above (and above) each fraud score and each of the model's `thresholds` (a list per
    model). `blobs`: the detectors' model files."""
    import dask
    from distributed import default_client

    from pipeline.experiment.metrics import ScoreSummary

    models = dask.delayed(_models_of, pure=True)(blobs)  # one task: loaded once per worker, not per part
    n = len(blobs)
    meta = pd.DataFrame({"row": pd.Series(dtype="int64"), "label": pd.Series(dtype="int8")})
    meta = meta.assign(**{f"s{i}": pd.Series(dtype="float64") for i in range(n)})
    scores = ddf.map_partitions(_scores_part, models, schema, meta=meta, enforce_metadata=False)
    scores = default_client().persist(scores)
    try:
        n_rows, n_fraud = (int(v) for v in dask.compute(scores["label"].size, scores["label"].sum()))
        n_legit = n_rows - n_fraud
        k = int(top(n_legit))
        head_meta = pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in (("model", "int32"), ("score", "float64"), ("row", "int64"))}
        ).assign(label=pd.Series(dtype="int8"))
        head = scores.reduction(
            _head_chunk,
            aggregate=_head_combine,
            combine=_head_combine,
            meta=head_meta,
            chunk_kwargs={"n_models": n, "k": k},
            aggregate_kwargs={"k": k},
            combine_kwargs={"k": k},
        ).compute()
        head = head.sort_values(["model", "row"], kind="stable")
        frauds, tops = [], []
        for i in range(n):
            h = head[head["model"] == i]
            f, lg = h[h["label"] == 1], h[h["label"] == 0]
            order = np.lexsort((lg["row"].to_numpy(), -lg["score"].to_numpy()))
            frauds.append(f)
            tops.append(lg.iloc[order])
        extra = thresholds or [[] for _ in range(n)]
        queries = [np.unique(np.r_[f["score"].to_numpy(), np.asarray(t, dtype=float)]) for f, t in zip(frauds, extra)]
        counts = scores.reduction(
            _count_chunk,
            aggregate=_count_sum,
            combine=_count_sum,
            meta=pd.DataFrame({"ge": pd.Series(dtype="int64"), "gt": pd.Series(dtype="int64")}),
            chunk_kwargs={"queries": queries},
        ).compute()
    finally:
        del scores
    out, at = [], 0
    for f, lg, q, t in zip(frauds, tops, queries, extra):
        ge = counts["ge"].to_numpy()[at : at + q.size]
        gt = counts["gt"].to_numpy()[at : at + q.size]
        at += q.size
        fraud = f["score"].to_numpy()
        where = np.searchsorted(q, fraud)
        out.append(
            ScoreSummary(
                n_legit=n_legit,
                fraud=fraud,
                fraud_rows=f["row"].to_numpy(),
                top=lg["score"].to_numpy(),
                top_rows=lg["row"].to_numpy(),
                legit_ge=ge[where],
                legit_gt=gt[where],
                at={float(x): int(ge[np.searchsorted(q, x)]) for x in t},
            )
        )
    return out
