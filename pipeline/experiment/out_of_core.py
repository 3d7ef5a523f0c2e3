"""The out-of-core evaluate's scoring (`detector.engine: dask`): each detector's `metrics.ScoreSummary` of a split,
computed on the Dask workers from the split's Parquet parts, so that no process holds every row's score.

Every part is read once and scored by every detector (`_scores_part`); the scores stay on the workers (persisted,
8 bytes per row and detector, at most `PASS_SCORE_BYTES` in all: more detectors than that take several passes). Two tree reductions of
`dask.dataframe` (`DataFrame.reduction`) then bring back what the metrics need: the fraud rows' scores with each
detector's k highest legit scores (a top-k per part, merged k by k), and, for the values that come out of the
first, the number of legit rows at or above (and above) each fraud score and each threshold asked for (counts per
part, summed). What comes back is bounded by the fraud rows and k, whatever the number of rows.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from pipeline.core.schema import Schema
from pipeline.experiment.metrics import ScoreSummary

#: a row's position: its part's number in the high bits, its place in the part in the low ones (row order)
_ROW_BITS = 32
#: the most bytes of scores one pass keeps on the workers, all of them together (8 per row and detector): more
#: detectors than fit are summarized in several passes, each reading the split again
PASS_SCORE_BYTES = 1 << 30


def _models_of(blobs: list[bytes]) -> list[Any]:
    from pipeline.experiment.detector import detector_from_bytes

    return [detector_from_bytes(b) for b in blobs]


def _scores_part(part: pd.DataFrame, models: list[Any], schema: Schema, partition_info=None) -> pd.DataFrame:
    """A part's rows as (row position, label, one score column per model)."""
    from pipeline.experiment.detector import predict_scores

    number = partition_info["number"] if partition_info else 0
    out: dict[str, np.ndarray] = {
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


def _candidates(model: int, score: np.ndarray, row: np.ndarray, label: np.ndarray, k: int) -> pd.DataFrame:
    """Long rows (model, score, row, label) of one model: every fraud row and the k top legit rows."""
    fraud, legit = np.flatnonzero(label == 1), np.flatnonzero(label == 0)
    at = np.r_[fraud, legit[_top_rows(score[legit], row[legit], k)]]
    return pd.DataFrame(
        {"model": np.full(at.size, model, dtype=np.int32), "score": score[at], "row": row[at], "label": label[at]}
    )


def _head_chunk(frame: pd.DataFrame, n_models: int, k: int) -> pd.DataFrame:
    row, label = frame["row"].to_numpy(), frame["label"].to_numpy()
    return pd.concat([_candidates(i, frame[f"s{i}"].to_numpy(), row, label, k) for i in range(n_models)])


def _head_combine(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    return pd.concat(
        [
            _candidates(cast(int, i), g["score"].to_numpy(), g["row"].to_numpy(), g["label"].to_numpy(), k)
            for i, g in frame.groupby("model", sort=True)
        ]
    )


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


def summarize_split(
    ddf, blobs: list[bytes], schema: Schema, top, thresholds=None, max_bytes: int = PASS_SCORE_BYTES
) -> list[ScoreSummary]:
    """Each model's `ScoreSummary` of the split `ddf` (`engine_dask.read_split`) on the current Dask client (module
    doc): the fraud rows' scores, the `top(n_legit)` highest legit scores, and the legit rows at or above (and above)
    each fraud score and each of the model's `thresholds` (a list per model). `blobs`: the detectors' model files,
    summarized in groups whose scores take at most `max_bytes` on the workers together (the split is read once per
    group)."""
    per_pass = max(1, int(max_bytes) // (8 * max(1, len(ddf))))
    extra = thresholds or [[] for _ in blobs]
    out: list[ScoreSummary] = []
    for a in range(0, len(blobs), per_pass):
        out += _summarize(ddf, blobs[a : a + per_pass], schema, top, extra[a : a + per_pass])
    return out


def _summarize(ddf, blobs: list[bytes], schema: Schema, top, extra: list) -> list[ScoreSummary]:
    """`summarize_split` of one group of models, in one pass over the split."""
    import dask
    from distributed import default_client

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
