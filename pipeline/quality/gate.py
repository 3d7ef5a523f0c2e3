"""Quality and privacy gate for one pool of synthetic fraud rows.

`assess_pool` compares a synthetic pool with the seed set it was generated from (and with real
held-out fraud rows) and returns a JSON-able dict:

* `quality_score`, `column_shapes`, `column_pair_trends`: SDMetrics QualityReport of the pool
  against the seed set. SDMetrics 0.32's report (`sdmetrics.reports.QualityReport`, the
  single-table one is deprecated) only scores column pairs whose real correlation/association
  passes a threshold and gives NaN when none does; the thresholds are set to 0 here so every
  pair counts, as in the classic definition. On a wide table (more than MAX_COLUMN_PAIRS column pairs) the
  pair trends are averaged over a fixed, seeded sample of pairs (`column_pairs_scored` of `column_pairs_total`).
  On failure the error is recorded in `quality_error` and the three values are None.
* `exact_copy_share`: share of pool rows equal, on every feature column, to some seed row.
* `dcr` (distance to closest record): numerical features standardised by the seed-set
  mean/std (NaN -> seed median), categoricals one-hot; nearest-neighbour distance from each pool
  row, and from each held-out fraud row, to the seed set; median and 5th percentile of both.
  `dcr_ratio` = median pool DCR / median holdout DCR: well below 1 means the pool sits closer
  to the seed rows than new real frauds do, i.e. it memorises them.
* `detection_auc`: XGBoost (50 trees, depth 3, one thread: see DETECTION_N_JOBS) telling seed
  rows from an equal-size pool subsample: ROC-AUC of the out-of-fold scores of DETECTION_REPEATS repeats of
  3-fold cross-validation (0.5 = indistinguishable, 1 = trivially told apart), with a 90% bootstrap interval
  over its rows (`detection_auc_interval`; `detection_auc_rows` rows a side). See `detection`.
* `detection_auc_real_reference`, `quality_score_real_reference`: the same two measures for REAL
  held-out frauds (the validation split's) against the seed set - how different real new frauds
  already are (fraud drifts). The calibrated checks judge the pool against them:
  `detection_auc_excess` (pool AUC minus reference AUC: how much easier the pool is to tell from the
  seed set than real new frauds are) and `quality_score_drop` (reference score minus pool score).
  The gate knows its noise: with few held-out frauds the reference AUC is noise (it fell to 0.29-0.36, below
  chance, on 30-60 frauds); a reference below chance counts as chance (0.5, `detection_auc_real_reference_used`),
  the excess carries a bootstrap interval (`detection_auc_excess_lo`/`_hi`, EXCESS_CI) and its check fails only
  when the interval's LOWER bound lies above `max_detection_auc_excess` (the check's `value` stays the point
  estimate). Below MIN_REFERENCE_ROWS held-out frauds nothing calibrated is measured and the report's `status`
  says "not enough held-out frauds" (STATUS_TOO_FEW: reported, not flagged) with a `status_note`.
  The absolute `quality_score` and `detection_auc` checks stay available (`min_quality_score`,
  `max_detection_auc`; the latter off by default: on drifting data it flags every pool).
* `checks`: {name: {"value", "threshold", "passed"}}; `passed` is None when the value could not
  be computed (not evaluated; it does not fail the gate) or the threshold is None (disabled).
* `passed` (no check failed) and `status`: "flagged", "not enough held-out frauds" or "passed".

The pool is subsampled to `max_rows` rows (seeded) for the report, DCR and detection; the
exact-copy share uses the whole pool. Detection - of the pool and of the real held-out frauds, against the seed
set - compares at most `max_rows` rows a side, so both AUCs carry the noise of the same number of rows and a large
table's reference (hundreds of thousands of held-out frauds) stays bounded in time and memory.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.feature_encoding import Encoder, tokens
from pipeline.core.files import finite_or_none
from pipeline.core.schema import Schema
from pipeline.quality.reports import STATUS_FLAGGED, STATUS_PASSED, STATUS_TOO_FEW  # noqa: F401 - the gate's verdicts

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
#: below this many real held-out frauds the references (and the calibrated checks) are not computed: the gate
#: reports STATUS_TOO_FEW instead of judging the pool against them
MIN_REFERENCE_ROWS = 10


#: Detection AUCs from few rows are noisy (on 30-60 held-out frauds the reference came out at 0.29-0.36, below
#: chance, in five runs). Each AUC is measured with DETECTION_REPEATS repeats of
#: 3-fold cross-validation (out-of-fold scores averaged per row) and carries DETECTION_BOOT bootstrap replicates
#: over its rows; `detection_auc_excess` is flagged only when the lower bound of its two-sided EXCESS_CI interval
#: lies above the threshold (beyond the noise), and a reference below chance counts as chance (0.5).
DETECTION_REPEATS = 3
DETECTION_BOOT = 500
EXCESS_CI = 0.90

_TABLE = "fraud"

#: Threads of the detection classifier. The model is tiny (at most 2 * max_rows rows); with two
#: OpenMP threads on a busy 2-core machine one fit took 8.8 s instead of 0.05 s (thread
#: synchronisation stalls), so a single thread is used.
DETECTION_N_JOBS = 1
#: pool rows (and seed/held-out rows a side) the gate's metrics look at, a seeded subsample above it
MAX_ROWS = 2000


def threshold_keys() -> list[str]:
    """The `quality.*` params keys that set the gate's thresholds."""
    return [key for key, _ in _CHECKS.values()]


def assess_pool(
    seed_set: pd.DataFrame,
    pool: pd.DataFrame,
    holdout: pd.DataFrame | None,
    schema: Schema,
    thresholds: dict[str, float | None],
    seed: int = 0,
    max_rows: int = MAX_ROWS,
    reference: Callable[[], dict | None] | None = None,
) -> dict:
    """Quality and privacy metrics of a synthetic `pool` against the `seed_set`, plus the gate verdict.

    `thresholds` holds every key of `threshold_keys()` (validated `quality` params; None disables a check).
    `reference`: a function giving what `real_reference(seed_set, holdout, schema, seed, max_rows)` returns for
    these arguments (a stage that gates several pools on the same seed set and held-out frauds computes it once:
    `pipeline.stages.sample`); None computes it here."""
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
    pool_det = detection(seed_df, pool_sub, schema, seed, max_rows=max_rows)
    result["detection_auc"] = pool_det["auc"] if pool_det else None
    # the same measures for REAL held-out frauds against the seed set: how far apart real frauds of two periods
    # already are (drift). A pool judged against these is judged against what real new frauds look like.
    has_ref = len(hold_df) >= MIN_REFERENCE_ROWS
    ref = reference() if reference is not None else _reference(seed_df, hold_df, schema, seed, max_rows)
    ref_det = ref["detection"] if ref else None
    if ref_det is not None:
        ref_det = {**ref_det, "replicates": np.asarray(ref_det["replicates"], dtype="float64")}
    result["detection_auc_real_reference"] = ref_det["auc"] if ref_det else None
    result["quality_score_real_reference"] = ref["quality_score"] if ref else None
    result["sdmetrics_privacy"] = _sdmetrics_privacy(seed_df, pool_sub, hold_df, schema, seed) if has_ref else None
    for key, det in (("detection_auc", pool_det), ("detection_auc_real_reference", ref_det)):
        result[key + "_interval"] = [det["auc_lo"], det["auc_hi"]] if det else None
        result[key + "_rows"] = det["n"] if det else None
    result.update(detection_excess(pool_det, ref_det, seed))
    result["quality_score_drop"] = _difference(result["quality_score_real_reference"], result["quality_score"])

    checks = {}
    for name, (key, direction) in _CHECKS.items():
        value, limit = result[name], limits[key]
        if name == "detection_auc_excess":  # judged beyond its noise: the interval's lower bound against the limit
            value = result["detection_auc_excess_lo"]
        if value is None or limit is None:
            passed = None
        else:
            passed = bool(value >= limit) if direction == "min" else bool(value <= limit)
        checks[name] = {"value": result[name], "threshold": limit, "passed": passed}
    result["checks"] = checks
    result["passed"] = all(c["passed"] is not False for c in checks.values())
    calibrated = ("detection_auc_excess", "quality_score_drop")
    too_few = not has_ref and any(limits[_CHECKS[c][0]] is not None for c in calibrated)
    result["status"] = STATUS_FLAGGED if not result["passed"] else STATUS_TOO_FEW if too_few else STATUS_PASSED
    if too_few:
        result["status_note"] = (
            f"{len(hold_df)} real held-out fraud(s), fewer than {MIN_REFERENCE_ROWS}: the "
            "calibrated checks (detection AUC excess, quality score drop) were not measured"
        )
    result["thresholds"] = limits
    return result


def real_reference(
    seed_set: pd.DataFrame, holdout: pd.DataFrame | None, schema: Schema, seed: int = 0, max_rows: int = MAX_ROWS
) -> dict[str, Any] | None:
    """The gate's pool-independent half: real held-out frauds against the seed set, `{"detection": detection(...)
    (its replicates as a list: JSON-able), "quality_score": ...}`; None with fewer than MIN_REFERENCE_ROWS held-out
    frauds. The same for every pool gated on these rows (JSON round trips keep every float)."""
    seed_df = schema.conform(seed_set).reset_index(drop=True)
    hold_df = schema.conform(holdout if holdout is not None else seed_set.iloc[:0]).reset_index(drop=True)
    return _reference(seed_df, hold_df, schema, seed, max_rows)


def _reference(
    seed_df: pd.DataFrame, hold_df: pd.DataFrame, schema: Schema, seed: int, max_rows: int
) -> dict[str, Any] | None:
    """`real_reference` on rows already conformed to the schema (as `assess_pool` holds them)."""
    if len(hold_df) < MIN_REFERENCE_ROWS:
        return None
    det = detection(seed_df, hold_df, schema, seed, max_rows=max_rows)
    if det is not None:
        det = {**det, "replicates": [float(x) for x in det["replicates"]]}
    return {"detection": det, "quality_score": _quality_report(seed_df, hold_df, schema)["quality_score"]}


def detection_excess(
    pool_det: dict | None, ref_det: dict | None, seed: int = 0, ci: float = EXCESS_CI
) -> dict[str, Any]:
    """`detection_auc_excess` (pool AUC minus the real held-out frauds' AUC, a reference below chance counted as
    0.5) with its `ci` bootstrap interval (`_lo`, `_hi`): the pool's and the reference's replicates are drawn
    independently, each replicate's reference floored at 0.5 as the point estimate's is. None without both."""
    keys = (
        "detection_auc_excess",
        "detection_auc_excess_lo",
        "detection_auc_excess_hi",
        "detection_auc_real_reference_used",
    )
    if pool_det is None or ref_det is None:
        return dict.fromkeys(keys)
    rng = np.random.default_rng(seed + 2)
    n = min(len(pool_det["replicates"]), len(ref_det["replicates"]))
    pool_rep = rng.permutation(pool_det["replicates"])[:n]
    ref_rep = np.maximum(rng.permutation(ref_det["replicates"])[:n], 0.5)
    excess = pool_rep - ref_rep
    tail = (1.0 - ci) / 2.0
    ref_used = max(ref_det["auc"], 0.5)
    return dict(
        zip(
            keys,
            (
                float(pool_det["auc"] - ref_used),
                float(np.quantile(excess, tail)),
                float(np.quantile(excess, 1.0 - tail)),
                float(ref_used),
            ),
        )
    )


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else float(a - b)


# -- metrics -----------------------------------------------------------------------------
def _for_sdmetrics(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    out = df.copy()
    for f in schema.features:
        if not f.is_categorical:
            out[f.name] = pd.to_numeric(out[f.name], errors="coerce").astype("float64")
    return out


#: SDMetrics' "Column Pair Trends" scores every pair of columns, which is quadratic in the column count: 4,656 pairs
#: at 97 features took about a minute per report on this machine (two reports per pool), 44,850 pairs at 300
#: features would take ten. Up to this many pairs every pair counts, exactly as SDMetrics' QualityReport computes it
#: (the built-in data: 17 features, 136 pairs); above it the pair property is the mean over a fixed, seeded sample of
#: this many pairs (the same pairs for the pool and the real held-out reference), and the report says so
#: (`column_pairs_scored` of `column_pairs_total`). Column Shapes always covers every column.
MAX_COLUMN_PAIRS = 300


def column_pairs(schema: Schema, limit: int = MAX_COLUMN_PAIRS) -> tuple[list[tuple[str, str]], int]:
    """The column pairs the quality score compares (every pair, or a seeded sample of `limit` of them, in
    SDMetrics' order) and how many pairs the table has."""
    names = list(schema.sdv_metadata_dict()["columns"])
    pairs = list(itertools.combinations(names, 2))
    if len(pairs) <= limit:
        return pairs, len(pairs)
    pick = np.sort(np.random.default_rng(0).choice(len(pairs), size=limit, replace=False))
    return [pairs[i] for i in pick], len(pairs)


def _quality_report(
    seed_df: pd.DataFrame, pool_df: pd.DataFrame, schema: Schema, max_pairs: int = MAX_COLUMN_PAIRS
) -> dict[str, Any]:
    empty: dict[str, Any] = {
        "quality_score": None,
        "column_shapes": None,
        "column_pair_trends": None,
        "column_shape_scores": None,
        "quality_error": None,
    }
    if seed_df.empty or pool_df.empty:
        empty["quality_error"] = "seed set or pool is empty"
        return empty
    pairs, total = column_pairs(schema, max_pairs)
    try:
        real, synthetic = _for_sdmetrics(seed_df, schema), _for_sdmetrics(pool_df, schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if len(pairs) == total:
                overall, shape_score, pair_score, details = _sdmetrics_report(real, synthetic, schema)
            else:
                overall, shape_score, pair_score, details = _sdmetrics_properties(real, synthetic, schema, pairs)
        shapes = {str(r["Column"]): finite_or_none(r["Score"]) for _, r in details.iterrows()}
        out = {
            "quality_score": finite_or_none(overall),
            "column_shapes": finite_or_none(shape_score),
            "column_pair_trends": finite_or_none(pair_score),
            "column_shape_scores": shapes,
            "quality_error": None,
        }
        if len(pairs) < total:
            out.update({"column_pairs_scored": len(pairs), "column_pairs_total": total})
        return out
    except Exception as error:  # recorded, never raised: the other metrics still count
        empty["quality_error"] = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
        return empty


def _sdmetrics_report(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema
) -> tuple[Any, Any, Any, pd.DataFrame]:
    """SDMetrics' QualityReport: its score, Column Shapes, Column Pair Trends (every pair) and the per-column shape
    details."""
    from sdmetrics.reports import QualityReport

    report = QualityReport()
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    report.generate(
        {_TABLE: real}, {_TABLE: synthetic}, {"tables": {_TABLE: schema.sdv_metadata_dict()}}, verbose=False
    )
    props = report.get_properties().set_index("Property")["Score"]
    return (
        report.get_score(),
        props.get("Column Shapes"),
        props.get("Column Pair Trends"),
        report.get_details("Column Shapes"),
    )


def _sdmetrics_properties(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, pairs: list[tuple[str, str]]
) -> tuple[Any, Any, Any, pd.DataFrame]:
    """The same numbers from SDMetrics' two single-table properties, the pair trends over `pairs` only (for every
    pair this equals `_sdmetrics_report`: tests/unit/quality/test_quality.py)."""
    from sdmetrics.reports.single_table._properties import ColumnPairTrends, ColumnShapes

    metadata = schema.sdv_metadata_dict()
    shapes = ColumnShapes()
    shape_score = shapes.get_score(real, synthetic, metadata)
    trends = ColumnPairTrends()  # thresholds 0: every pair counts, as set on the report above
    trends.details = trends._generate_details(real, synthetic, metadata, column_pairs=pairs)
    pair_score = trends._compute_average()
    return np.nanmean([shape_score, pair_score]), shape_score, pair_score, shapes.details  # the report's overall


#: rows SDMetrics' DCR metrics compare (they cost about 10 s per 1,000 pool rows here)
SDMETRICS_DCR_ROWS = 300
#: seed and held-out rows a side those metrics measure the pool rows against: their cost grows with pool rows x
#: reference rows (536 s for 97,571 a side on a 30-million-row table); above the seed sets they are meant for, a
#: seeded sample of this many keeps the figure and bounds the time
SDMETRICS_REFERENCE_ROWS = 5000


def _sdmetrics_privacy(
    seed_df: pd.DataFrame, pool_df: pd.DataFrame, hold_df: pd.DataFrame, schema: Schema, seed: int
) -> dict[str, Any]:
    """SDMetrics 0.32's own DCR privacy metrics, reported beside the gate (not gating; see docs/method.md):
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
        m = min(len(seed_df), len(hold_df), SDMETRICS_REFERENCE_ROWS)
        seed_sub = seed_df.iloc[np.sort(rng.choice(len(seed_df), size=m, replace=False))]
        hold_sub = (
            hold_df if len(hold_df) <= m else hold_df.iloc[np.sort(rng.choice(len(hold_df), size=m, replace=False))]
        )
        metadata = {"tables": {_TABLE: schema.sdv_metadata_dict()}}
        seed_x, pool_x, hold_x = (_for_sdmetrics(d, schema) for d in (seed_sub, pool_sub, hold_sub))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            over = DCROverfittingProtection.compute_breakdown(seed_x, pool_x, hold_x, metadata, _TABLE)
            # its random baseline rows come from an unseeded generator unless the class carries a `_seed`: the
            # same params must give the same numbers
            seeded: Any = type("SeededDCRBaselineProtection", (DCRBaselineProtection,), {"_seed": seed})
            base = seeded.compute_breakdown(seed_x, pool_x, metadata, _TABLE)
        return {
            "dcr_overfitting_protection": finite_or_none(over.get("score")),
            "closer_to_seed_share": finite_or_none(
                (over.get("synthetic_data_percentages") or {}).get("closer_to_training")
            ),
            "dcr_baseline_protection": finite_or_none(base.get("score")),
            "rows": int(n),
            "error": None,
        }
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
    pool, hold = stats["pool"], stats["holdout"]
    if pool is not None and hold is not None and hold["median"] > 0:
        ratio = pool["median"] / hold["median"]
    return stats, ratio


def detection(
    seed_df: pd.DataFrame,
    other_df: pd.DataFrame,
    schema: Schema,
    seed: int = 0,
    repeats: int = DETECTION_REPEATS,
    n_boot: int = DETECTION_BOOT,
    max_rows: int | None = None,
) -> dict[str, Any] | None:
    """How well a classifier tells `other_df` rows from `seed_df` rows: {"auc", "auc_lo", "auc_hi" (90% bootstrap
    interval), "replicates" (bootstrap AUCs), "n" (rows per side)}, or None with fewer than 6 rows a side.

    Equal-size subsamples of both (the smaller side's size, at most `max_rows`), XGBoost (50 trees, depth 3, one thread: see
    DETECTION_N_JOBS) in `repeats` repeats of stratified 3-fold cross-validation; each row's out-of-fold scores are
    averaged over the repeats and the AUC is that of the averaged scores. The replicates resample the rows of each
    side (the test-set noise, which dominates on few rows)."""
    n = min(len(seed_df), len(other_df), *(() if max_rows is None else (max_rows,)))
    if n < 6:
        return None
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from xgboost import XGBClassifier

    rng = np.random.default_rng(seed + 1)
    real = seed_df.iloc[np.sort(rng.choice(len(seed_df), size=n, replace=False))]
    fake = other_df.iloc[np.sort(rng.choice(len(other_df), size=n, replace=False))]
    X = schema.to_model_frame(pd.concat([real, fake], ignore_index=True))
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    scores = np.zeros(len(y))
    for r in range(repeats):
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed + 1000 * r)
        for train_idx, test_idx in folds.split(X, y):
            model = XGBClassifier(
                n_estimators=50,
                max_depth=3,
                n_jobs=DETECTION_N_JOBS,
                tree_method="hist",
                enable_categorical=True,
                random_state=seed + r,
                verbosity=0,
            )
            model.fit(X.iloc[train_idx], y[train_idx])
            scores[test_idx] += model.predict_proba(X.iloc[test_idx])[:, 1] / repeats
    reps = bootstrap_auc(y, scores, n_boot, np.random.default_rng(seed + 3))
    return {
        "auc": float(roc_auc_score(y, scores)),
        "auc_lo": float(np.quantile(reps, 0.05)),
        "auc_hi": float(np.quantile(reps, 0.95)),
        "replicates": reps,
        "n": int(n),
    }


def bootstrap_auc(y: np.ndarray, scores: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """`n_boot` ROC-AUCs of (y, scores) with the positive and the negative rows each resampled with replacement
    (ties count one half), vectorised: one sort, one cumulative sum per replicate."""
    y = np.asarray(y)
    uniq, inv = np.unique(np.asarray(scores, dtype=float), return_inverse=True)
    pos, neg = inv[y == 1], inv[y == 0]
    n1, n0 = len(pos), len(neg)
    wp = rng.multinomial(n1, np.full(n1, 1.0 / n1), size=n_boot).astype(float)  # (n_boot, n1) draw counts
    wn = rng.multinomial(n0, np.full(n0, 1.0 / n0), size=n_boot).astype(float)
    neg_at = np.zeros((n_boot, len(uniq)))  # negatives drawn at each distinct score
    np.add.at(neg_at.T, neg, wn.T)
    below = np.cumsum(neg_at, axis=1) - neg_at  # negatives strictly below each distinct score
    wins = below[:, pos] + 0.5 * neg_at[:, pos]
    return (wp * wins).sum(axis=1) / (n1 * n0)
