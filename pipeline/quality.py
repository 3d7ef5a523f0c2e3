"""Quality and privacy gate for one pool of synthetic fraud rows.

`assess_pool` compares a synthetic pool with the seed set it was generated from (and with real
held-out fraud rows) and returns a JSON-able dict:

* `quality_score`, `column_shapes`, `column_pair_trends`: SDMetrics QualityReport of the pool
  against the seed set. SDMetrics 0.32's report (`sdmetrics.reports.QualityReport`, the
  single-table one is deprecated) only scores column pairs whose real correlation/association
  passes a threshold and gives NaN when none does; the thresholds are set to 0 here so every
  pair counts, as in the classic definition. On failure the error is recorded in
  `quality_error` and the three values are None.
* `exact_copy_share`: share of pool rows equal, on every feature column, to some seed row.
* `dcr` (distance to closest record): numerical features standardised by the seed-set
  mean/std (NaN -> seed median), categoricals one-hot; nearest-neighbour distance from each pool
  row, and from each held-out fraud row, to the seed set; median and 5th percentile of both.
  `dcr_ratio` = median pool DCR / median holdout DCR: well below 1 means the pool sits closer
  to the seed rows than new real frauds do, i.e. it memorises them.
* `detection_auc`: XGBoost (50 trees, depth 3, one thread: see DETECTION_N_JOBS) telling seed
  rows from an equal-size pool subsample, mean ROC-AUC over 3 stratified folds (0.5 = indistinguishable, 1 = trivially told apart).
* `checks`: {name: {"value", "threshold", "passed"}}; `passed` is None when the value could not
  be computed (not evaluated; it does not fail the gate) or the threshold is None (disabled).

The pool is subsampled to `max_rows` rows (seeded) for the report, DCR and detection; the
exact-copy share uses the whole pool.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from pipeline.encoding import Encoder, tokens
from pipeline.io import finite_or_none
from pipeline.schema import Schema

# check name -> (threshold key, direction)
_CHECKS = {
    "quality_score": ("min_quality_score", "min"),
    "exact_copy_share": ("max_exact_copy_share", "max"),
    "dcr_ratio": ("min_dcr_ratio", "min"),
    "detection_auc": ("max_detection_auc", "max"),
}

_TABLE = "fraud"

#: Threads of the detection classifier. The model is tiny (at most 2 * max_rows rows); with two
#: OpenMP threads on a busy 2-core machine one fit took 8.8 s instead of 0.05 s (thread
#: synchronisation stalls), so a single thread is used.
DETECTION_N_JOBS = 1


def threshold_keys() -> list[str]:
    """The `quality.*` params keys that set the gate's thresholds."""
    return [key for key, _ in _CHECKS.values()]


def assess_pool(seed_set: pd.DataFrame, pool: pd.DataFrame, holdout: pd.DataFrame | None, schema: Schema,
                thresholds: dict[str, float | None], seed: int = 0, max_rows: int = 2000) -> dict:
    """Quality and privacy metrics of a synthetic `pool` against the `seed_set`, plus the gate verdict.

    `thresholds` holds every key of `threshold_keys()` (validated `quality` params; None disables a check)."""
    limits = {key: thresholds[key] for key in threshold_keys()}
    seed_df = schema.conform(seed_set).reset_index(drop=True)
    pool_df = schema.conform(pool).reset_index(drop=True)
    hold_df = schema.conform(holdout if holdout is not None else seed_set.iloc[:0]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    pool_sub = pool_df
    if len(pool_df) > max_rows:
        pool_sub = pool_df.iloc[np.sort(rng.choice(len(pool_df), size=max_rows, replace=False))].reset_index(drop=True)

    result: dict[str, Any] = {
        "n_seed": int(len(seed_df)),
        "n_pool": int(len(pool_df)),
        "n_pool_evaluated": int(len(pool_sub)),
        "n_holdout": int(len(hold_df)),
    }
    result.update(_quality_report(seed_df, pool_sub, schema))
    result["exact_copy_share"] = _exact_copy_share(seed_df, pool_df, schema)
    dcr, ratio = _dcr(seed_df, pool_sub, hold_df, schema)
    result["dcr"] = dcr
    result["dcr_ratio"] = ratio
    result["detection_auc"] = _detection_auc(seed_df, pool_sub, schema, seed)
    # the same classifier telling seed rows from REAL held-out frauds: how far apart real frauds of two
    # periods already are (drift); a pool's AUC well above this is what the gate is about
    result["detection_auc_real_reference"] = (_detection_auc(seed_df, hold_df, schema, seed)
                                              if len(hold_df) >= 10 else None)

    checks = {}
    for name, (key, direction) in _CHECKS.items():
        value, limit = result[name], limits[key]
        if value is None or limit is None:
            passed = None
        else:
            passed = bool(value >= limit) if direction == "min" else bool(value <= limit)
        checks[name] = {"value": value, "threshold": limit, "passed": passed}
    result["checks"] = checks
    result["passed"] = all(c["passed"] is not False for c in checks.values())
    result["thresholds"] = limits
    return result


# -- metrics -----------------------------------------------------------------------------
def _for_sdmetrics(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    out = df.copy()
    for f in schema.features:
        if not f.is_categorical:
            out[f.name] = pd.to_numeric(out[f.name], errors="coerce").astype("float64")
    return out


def _quality_report(seed_df: pd.DataFrame, pool_df: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    empty = {"quality_score": None, "column_shapes": None, "column_pair_trends": None,
             "column_shape_scores": None, "quality_error": None}
    if seed_df.empty or pool_df.empty:
        empty["quality_error"] = "seed set or pool is empty"
        return empty
    try:
        from sdmetrics.reports import QualityReport

        report = QualityReport()
        report.real_correlation_threshold = 0
        report.real_association_threshold = 0
        metadata = {"tables": {_TABLE: schema.sdv_metadata_dict()}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.generate({_TABLE: _for_sdmetrics(seed_df, schema)}, {_TABLE: _for_sdmetrics(pool_df, schema)},
                            metadata, verbose=False)
            props = report.get_properties().set_index("Property")["Score"]
            details = report.get_details("Column Shapes")
        shapes = {str(r["Column"]): finite_or_none(r["Score"]) for _, r in details.iterrows()}
        return {
            "quality_score": finite_or_none(report.get_score()),
            "column_shapes": finite_or_none(props.get("Column Shapes")),
            "column_pair_trends": finite_or_none(props.get("Column Pair Trends")),
            "column_shape_scores": shapes,
            "quality_error": None,
        }
    except Exception as error:  # recorded, never raised: the other metrics still count
        empty["quality_error"] = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
        return empty


def _canonical(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for f in schema.features:
        if f.is_categorical:
            out[f.name] = tokens(df[f.name]).astype(str)
        else:
            out[f.name] = pd.to_numeric(df[f.name], errors="coerce").astype("float64") + 0.0  # -0.0 -> 0.0
    return out


def _exact_copy_share(seed_df: pd.DataFrame, pool_df: pd.DataFrame, schema: Schema) -> float | None:
    if pool_df.empty:
        return None
    if seed_df.empty:
        return 0.0
    seed_hash = set(pd.util.hash_pandas_object(_canonical(seed_df, schema), index=False).to_numpy())
    pool_hash = pd.util.hash_pandas_object(_canonical(pool_df, schema), index=False).to_numpy()
    return float(np.mean([h in seed_hash for h in pool_hash]))


def _encode_for_distance(seed_df: pd.DataFrame, frames: list[pd.DataFrame], schema: Schema) -> list[np.ndarray]:
    """Standardise numericals by seed stats (NaN -> seed median), one-hot categoricals (categories of all frames)."""
    cats = schema.categorical
    categories = {c: sorted(set().union(*(set(tokens(df[c])) for df in [seed_df, *frames]))) for c in cats}
    encoder = Encoder(seed_df, schema.numerical, cats, standardize=True, categories=categories)
    return [encoder.one_hot(df) for df in [seed_df, *frames]]


def _dist_stats(d: np.ndarray) -> dict[str, float] | None:
    if d.size == 0:
        return None
    return {"median": float(np.median(d)), "p5": float(np.percentile(d, 5))}


def _dcr(seed_df, pool_df, hold_df, schema) -> tuple[dict[str, Any], float | None]:
    if seed_df.empty or pool_df.empty:
        return {"pool": None, "holdout": None}, None
    from sklearn.neighbors import NearestNeighbors

    seed_x, pool_x, hold_x = _encode_for_distance(seed_df, [pool_df, hold_df], schema)
    nn = NearestNeighbors(n_neighbors=1).fit(seed_x)
    pool_d = nn.kneighbors(pool_x, return_distance=True)[0][:, 0]
    hold_d = nn.kneighbors(hold_x, return_distance=True)[0][:, 0] if len(hold_x) else np.zeros(0)
    stats = {"pool": _dist_stats(pool_d), "holdout": _dist_stats(hold_d)}
    ratio = None
    if stats["holdout"] is not None and stats["holdout"]["median"] > 0:
        ratio = stats["pool"]["median"] / stats["holdout"]["median"]
    return stats, ratio


def _detection_auc(seed_df, pool_df, schema, seed) -> float | None:
    n = min(len(seed_df), len(pool_df))
    if n < 3:
        return None
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from xgboost import XGBClassifier

    rng = np.random.default_rng(seed + 1)
    real = seed_df.iloc[np.sort(rng.choice(len(seed_df), size=n, replace=False))]
    fake = pool_df.iloc[np.sort(rng.choice(len(pool_df), size=n, replace=False))]
    X = schema.to_model_frame(pd.concat([real, fake], ignore_index=True))
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    aucs = []
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    for train_idx, test_idx in folds.split(X, y):
        model = XGBClassifier(n_estimators=50, max_depth=3, n_jobs=DETECTION_N_JOBS, tree_method="hist",
                              enable_categorical=True, random_state=seed, verbosity=0)
        model.fit(X.iloc[train_idx], y[train_idx])
        aucs.append(roc_auc_score(y[test_idx], model.predict_proba(X.iloc[test_idx])[:, 1]))
    return float(np.mean(aucs))
