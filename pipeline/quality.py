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
* `detection_auc_real_reference`, `quality_score_real_reference`: the same two measures for REAL
  held-out frauds (the validation split's) against the seed set - how different real new frauds
  already are (fraud drifts). The calibrated checks judge the pool against them:
  `detection_auc_excess` (pool AUC minus reference AUC: how much easier the pool is to tell from the
  seed set than real new frauds are) and `quality_score_drop` (reference score minus pool score).
  The absolute `quality_score` and `detection_auc` checks stay available (`min_quality_score`,
  `max_detection_auc`; the latter off by default: on drifting data it flags every pool).
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

# check name -> (threshold key, direction). The calibrated checks compare the pool with REAL held-out frauds
# measured the same way (real frauds drift between periods, so a fixed bar would flag every pool on drifting data):
# detection_auc_excess = the pool's detection AUC minus that of real held-out frauds vs the seed set;
# quality_score_drop = the held-out frauds' quality score minus the pool's; dcr_ratio is relative by definition.
_CHECKS = {
    "quality_score": ("min_quality_score", "min"),
    "quality_score_drop": ("max_quality_score_drop", "max"),
    "exact_copy_share": ("max_exact_copy_share", "max"),
    "dcr_ratio": ("min_dcr_ratio", "min"),
    "detection_auc": ("max_detection_auc", "max"),
    "detection_auc_excess": ("max_detection_auc_excess", "max"),
}
#: below this many real held-out frauds the references (and the calibrated checks) are not computed
MIN_REFERENCE_ROWS = 10

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
    # the same measures for REAL held-out frauds against the seed set: how far apart real frauds of two periods
    # already are (drift). A pool judged against these is judged against what real new frauds look like.
    has_ref = len(hold_df) >= MIN_REFERENCE_ROWS
    result["detection_auc_real_reference"] = _detection_auc(seed_df, hold_df, schema, seed) if has_ref else None
    result["quality_score_real_reference"] = (_quality_report(seed_df, hold_df, schema)["quality_score"]
                                              if has_ref else None)
    result["sdmetrics_privacy"] = _sdmetrics_privacy(seed_df, pool_sub, hold_df, schema, seed) if has_ref else None
    result["detection_auc_excess"] = _difference(result["detection_auc"], result["detection_auc_real_reference"])
    result["quality_score_drop"] = _difference(result["quality_score_real_reference"], result["quality_score"])

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


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else float(a - b)


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


#: rows SDMetrics' DCR metrics compare (they cost about 10 s per 1,000 pool rows here)
SDMETRICS_DCR_ROWS = 300


def _sdmetrics_privacy(seed_df: pd.DataFrame, pool_df: pd.DataFrame, hold_df: pd.DataFrame, schema: Schema,
                       seed: int) -> dict[str, Any]:
    """SDMetrics 0.32's own DCR privacy metrics, reported beside the gate (not gating; see the README):
    DCROverfittingProtection (share of pool rows closer to the seed set than to the real held-out frauds; score 1 =
    no closer to the seed set than to held-out rows) and DCRBaselineProtection (pool's distance to the seed set
    against random data's; 1 = as far as random rows). On a time split the held-out frauds are both fewer and
    drifted (the seed set is subsampled to the held-out size for the first; drift remains), which makes every
    pool look 'closer to training' - why the gate keeps its own DCR ratio, which measures pool and held-out
    frauds against the same seed set."""
    try:
        from sdmetrics.single_table import DCRBaselineProtection, DCROverfittingProtection

        rng = np.random.default_rng(seed)
        n = min(len(pool_df), SDMETRICS_DCR_ROWS)
        pool_sub = pool_df.iloc[np.sort(rng.choice(len(pool_df), size=n, replace=False))]
        # as many seed rows as held-out rows: a nearest neighbour among more rows is nearer by construction
        m = min(len(seed_df), len(hold_df))
        seed_sub = seed_df.iloc[np.sort(rng.choice(len(seed_df), size=m, replace=False))]
        metadata = {"tables": {_TABLE: schema.sdv_metadata_dict()}}
        seed_x, pool_x, hold_x = (_for_sdmetrics(d, schema) for d in (seed_sub, pool_sub, hold_df))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            over = DCROverfittingProtection.compute_breakdown(seed_x, pool_x, hold_x, metadata, _TABLE)
            base = DCRBaselineProtection.compute_breakdown(seed_x, pool_x, metadata, _TABLE)
        return {"dcr_overfitting_protection": finite_or_none(over.get("score")),
                "closer_to_seed_share": finite_or_none((over.get("synthetic_data_percentages") or {})
                                                       .get("closer_to_training")),
                "dcr_baseline_protection": finite_or_none(base.get("score")), "rows": int(n), "error": None}
    except Exception as error:  # recorded, never raised: the gate does not depend on it
        return {"error": f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"}


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
