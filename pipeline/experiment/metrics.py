"""Detector metrics at an alert budget, and paired bootstrap CIs for recall lift.

Conventions (used across the pipeline):

* scores: higher = more suspicious; a row is alerted when `score >= threshold`.
* alert budget: the share of legitimate rows the fraud team may flag (a false-positive rate).
* The threshold for a budget is chosen on the REAL VALIDATION legit rows; every metric is then
  computed on the REAL TEST rows with that fixed threshold.
* Headline metric: recall at the first FPR budget (`recall_at_fpr_{pct}` of `fpr_budgets[0]`).
* Lift of a config: `(recall_config - recall_ref) / recall_ref`, paired by detector seed.
  Verdicts (`verdict_of`; the lift CI has the same sign as the difference CI whenever the ref recall is > 0):
  `helps` if the 95% CI of the recall difference is above 0, `hurts` if below; else `equivalent` when the
  (1 - 2 alpha) CI - 90% for a 95% CI: the two one-sided tests - lies inside +-`min_effect` (no gain or loss
  worth having), else `inconclusive` (the CI reaches past +-min_effect: the data cannot tell). Without a
  `min_effect` the last two are one word, `no clear effect`. `too few to judge` is given by the callers.
* Detectable effect: the smallest difference the comparison would detect with 80% power,
  `(z(1 - alpha/2) + z(power)) x SE`, SE the standard deviation of the bootstrap differences.

Metric names are MLflow/DVC-safe: letters, digits, `_` and `.` only (see `pct_label`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from pipeline.core.errors import DataError

VERDICT_HELPS = "helps"
VERDICT_HURTS = "hurts"
VERDICT_EQUIVALENT = "equivalent"
VERDICT_INCONCLUSIVE = "inconclusive"
VERDICT_TOO_FEW = "too few to judge"
#: the verdict when no `min_effect` is given (equivalent and inconclusive in one word)
VERDICT_NONE = "no clear effect"
#: every verdict a comparison can get, in reading order
VERDICTS = (VERDICT_HELPS, VERDICT_EQUIVALENT, VERDICT_INCONCLUSIVE, VERDICT_HURTS, VERDICT_TOO_FEW)
#: the verdicts that say "no effect beyond noise" (neither helps nor hurts)
NOT_SIGNIFICANT = (VERDICT_EQUIVALENT, VERDICT_INCONCLUSIVE, VERDICT_NONE)
#: power of the detectable effect
POWER = 0.8


# ---------------------------------------------------------------------------- input checks


def _scores(scores, what: str = "scores") -> np.ndarray:
    s = np.asarray(scores, dtype=float).ravel()
    if not np.all(np.isfinite(s)):
        raise DataError(f"{what} contain NaN or infinite values; the detector must score every row")
    return s


def _labels_scores(y, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).ravel()
    s = _scores(scores)
    if y.shape[0] != s.shape[0]:
        raise DataError(f"labels and scores differ in length ({y.shape[0]} vs {s.shape[0]})")
    if y.size and not np.isin(y, (0, 1)).all():
        raise DataError("labels must be 0 (legit) or 1 (fraud)")
    return y.astype(np.int8), s


# ---------------------------------------------------------------------------- single metrics


def threshold_at_fpr(legit_scores, budget: float) -> float:
    """The smallest legit score t with share(legit_scores >= t) <= budget.

    Ties are handled so the budget is never exceeded on `legit_scores`: a tied block is either
    wholly alerted or not at all. If even the max score would exceed the budget (e.g. many rows
    tied at the max), returns `np.nextafter(max, inf)`, which alerts no legit row.
    """
    s = np.sort(_scores(legit_scores, "legit scores"))
    n = s.size
    if n == 0:
        raise DataError("no legit rows to set the alert threshold on; the validation split needs legit rows")
    uniq = np.unique(s)  # ascending
    share = (n - np.searchsorted(s, uniq, side="left")) / n  # share >= each value, decreasing
    ok = np.flatnonzero(share <= budget)
    if ok.size == 0:
        return float(np.nextafter(s[-1], np.inf))
    return float(uniq[ok[0]])


def _share_at_or_above(scores: np.ndarray, t: float) -> float:
    return float(np.mean(scores >= t))


def recall_at_budget(y_valid, s_valid, y_test, s_test, budget: float) -> float:
    """The headline metric of one detector: the alert threshold from the validation legit rows at FPR
    `budget`, recall on the test rows (as in `detector_metrics`)."""
    y_valid, s_valid = _labels_scores(y_valid, s_valid)
    return recall_at_threshold(y_test, s_test, threshold_at_fpr(s_valid[y_valid == 0], budget))


def recall_at_threshold(y, scores, t: float) -> float:
    """Share of fraud rows (y == 1) with score >= t; NaN if there are no fraud rows."""
    y, s = _labels_scores(y, scores)
    pos = s[y == 1]
    return float(np.mean(pos >= t)) if pos.size else float("nan")


def fpr_at_threshold(y, scores, t: float) -> float:
    """Share of legit rows (y == 0) with score >= t; NaN if there are no legit rows."""
    y, s = _labels_scores(y, scores)
    neg = s[y == 0]
    return float(np.mean(neg >= t)) if neg.size else float("nan")


def recall_at_precision(y, scores, floor: float) -> float:
    """Largest recall on the PR curve among points with precision >= floor (0.0 if none)."""
    y, s = _labels_scores(y, scores)
    if not (y == 1).any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(y, s)
    ok = precision >= floor
    return float(recall[ok].max()) if ok.any() else 0.0


def precision_at_k(y, scores, k: int) -> float:
    """Precision among the k highest-scored rows (k > n uses n; ties keep input order)."""
    y, s = _labels_scores(y, scores)
    if y.size == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    return float(y[order[: min(int(k), y.size)]].mean())


# ---------------------------------------------------------------------------- names + bundle


def pct_label(x: float) -> str:
    """A fraction as a percent label: 0.001 -> '0.1pct', 0.01 -> '1pct', 0.5 -> '50pct'."""
    v = round(float(x) * 100.0, 10)
    txt = np.format_float_positional(v, trim="-")
    return f"{txt}pct"


def metric_names(fpr_budgets: Sequence[float], precision_floors: Sequence[float], top_k: Sequence[int]) -> list[str]:
    """Names of the metrics `detector_metrics` returns, in its order."""
    names: list[str] = []
    for b in fpr_budgets:
        p = pct_label(b)
        names += [f"recall_at_fpr_{p}", f"test_fpr_at_fpr_{p}", f"threshold_at_fpr_{p}"]
    for f in precision_floors:
        names.append(f"recall_at_precision_{pct_label(f)}")
    for k in top_k:
        names.append(f"precision_at_top_{int(k)}")
    names += ["pr_auc", "roc_auc"]
    return names


def detector_metrics(
    y_valid,
    s_valid,
    y_test,
    s_test,
    fpr_budgets: Sequence[float],
    precision_floors: Sequence[float],
    top_k: Sequence[int],
) -> dict[str, float]:
    """All metrics of one detector: thresholds from validation legit rows, metrics on test rows."""
    names = metric_names(fpr_budgets, precision_floors, top_k)
    y_valid, s_valid = _labels_scores(y_valid, s_valid)
    y_test, s_test = _labels_scores(y_test, s_test)
    n_pos, n_neg = int((y_test == 1).sum()), int((y_test == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise DataError(
            f"the test split needs both classes (has {n_pos} fraud, {n_neg} legit rows); use a longer test window"
        )
    legit_valid = s_valid[y_valid == 0]
    pos_test, neg_test = s_test[y_test == 1], s_test[y_test == 0]

    out: dict[str, float] = {}
    for b in fpr_budgets:
        p = pct_label(b)
        t = threshold_at_fpr(legit_valid, b)
        out[f"recall_at_fpr_{p}"] = _share_at_or_above(pos_test, t)
        out[f"test_fpr_at_fpr_{p}"] = _share_at_or_above(neg_test, t)
        out[f"threshold_at_fpr_{p}"] = float(t)
    for f in precision_floors:
        out[f"recall_at_precision_{pct_label(f)}"] = recall_at_precision(y_test, s_test, f)
    for k in top_k:
        out[f"precision_at_top_{int(k)}"] = precision_at_k(y_test, s_test, int(k))
    # clip: average_precision_score can return 1.0000000000000002 from float summation
    out["pr_auc"] = float(np.clip(average_precision_score(y_test, s_test), 0.0, 1.0))
    out["roc_auc"] = float(roc_auc_score(y_test, s_test))
    return {n: out[n] for n in names}


# ---------------------------------------------------------------------------- bootstrap


def _hits(h, what: str) -> np.ndarray:
    """Hits as a (n_fits, n_seeds, n_rows) bool array: one seed's row vector, a (seeds, rows) matrix (one fit)
    or the full three levels."""
    a = np.asarray(h)
    if a.ndim == 1:
        a = a[None, :]  # a single seed
    if a.ndim == 2:
        a = a[None, :, :]  # a single generator fit (or no generator: the baselines)
    if a.ndim != 3:
        raise ValueError(
            f"{what} must have shape (n_seeds, n_test_frauds) or (n_fits, n_seeds, n_test_frauds), got {a.shape}"
        )
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{what} must hold booleans (or 0/1)")
        a = a.astype(bool)
    return a


def verdict_counts(verdicts) -> dict[str, int]:
    """How many comparisons got each verdict (every word, zeros included, so `dvc metrics diff` lines up; other
    words such as `no clear effect` or `failed` after them)."""
    v = np.asarray(list(verdicts), dtype=object)
    words = list(VERDICTS) + sorted(set(v.tolist()) - set(VERDICTS) - {"reference"})
    return {w: int((v == w).sum()) for w in words}


def verdict_of(diff_lo: float, diff_hi: float, eq_lo: float, eq_hi: float, min_effect: float | None) -> str:
    """The verdict of a paired difference from its CI (`diff_lo..diff_hi`) and its (1 - 2 alpha) CI
    (`eq_lo..eq_hi`), as in the module doc."""
    if diff_lo > 0:
        return VERDICT_HELPS
    if diff_hi < 0:
        return VERDICT_HURTS
    if min_effect is None:
        return VERDICT_NONE
    return VERDICT_EQUIVALENT if -min_effect < eq_lo and eq_hi < min_effect else VERDICT_INCONCLUSIVE


def detectable_effect(replicates: np.ndarray, ci: float, power: float = POWER) -> float:
    """The smallest true difference detected with `power` at the two-sided `ci`: (z(1-alpha/2) + z(power)) x SE."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf
    se = float(np.std(replicates, ddof=1)) if len(replicates) > 1 else float("nan")
    return (z(1.0 - (1.0 - ci) / 2.0) + z(power)) * se


def paired_bootstrap(
    hits_config,
    hits_ref,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    resample_fits: bool = True,
    min_effect: float | None = None,
) -> dict:
    """Paired bootstrap of test recall, config vs reference, over up to three levels.

    `hits_*[f, k, i]` says whether test fraud row i is alerted by the detector trained with detector seed k on
    the pool of generator fit f (thresholds fixed from validation, so only fraud rows matter for recall); a
    (n_seeds, n_rows) array is one fit (the baselines have no generator). Each replicate draws test fraud rows,
    detector seeds and fits with replacement; rows and seeds are the same draws for config and ref. Fits are
    the same draws when both sides have the same number of fits (paired: e.g. the scarcity sweep's repeats, where
    the reference is retrained on each draw), and drawn for the side that has several when the other has one.
    recall = mean over drawn fits of mean over drawn seeds of mean over drawn rows. `resample_fits=False`
    averages over fits without drawing them: the interval then leaves generator randomness out, which shows
    how much of the width it contributes.
    Returns recall (+ _lo/_hi), ref_recall, diff (+ _lo/_hi), lift (+ _lo/_hi), verdict (`verdict_of`: five
    words with `min_effect`, else helps / hurts / no clear effect), eq_lo/eq_hi (the 1 - 2 alpha interval of the
    two one-sided tests), detectable (the difference detectable with 80% power), se, n_boot.
    The lift is NaN when the reference recall is 0; a lift CI bound is +inf when it falls on replicates
    whose reference recall is 0 (reports then show the difference CI instead).
    """
    hc, hr = _hits(hits_config, "hits_config"), _hits(hits_ref, "hits_ref")
    if hc.shape[1:] != hr.shape[1:]:
        raise ValueError(
            f"hits_config {hc.shape} and hits_ref {hr.shape} must have the same (n_seeds, n_test_frauds), paired "
            "by seed index and fraud row"
        )
    if hc.shape[0] != hr.shape[0] and 1 not in (hc.shape[0], hr.shape[0]):
        raise ValueError(
            f"hits_config has {hc.shape[0]} fits and hits_ref {hr.shape[0]}: pair equal numbers of "
            "fits, or compare against a single one"
        )
    _, n_seeds, n_rows = hc.shape
    if n_seeds == 0 or n_rows == 0 or 0 in (hc.shape[0], hr.shape[0]):
        raise DataError(f"paired bootstrap needs at least one fit, seed and test fraud row, got shape {hc.shape}")
    n_boot = int(n_boot)

    rng = np.random.default_rng(seed)
    row_counts = rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=n_boot).astype(float)
    seed_counts = rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=n_boot).astype(float)
    # fit draws come last so that single-fit comparisons keep exactly the draws they had before fits existed
    n_fits = max(hc.shape[0], hr.shape[0])
    if n_fits > 1 and resample_fits:
        fit_counts = rng.multinomial(n_fits, np.full(n_fits, 1.0 / n_fits), size=n_boot).astype(float)
    else:
        fit_counts = np.ones((n_boot, n_fits))

    def replicate_recall(h: np.ndarray) -> np.ndarray:
        per_fit_seed = np.einsum("br,fsr->bfs", row_counts, h.astype(float)) / n_rows  # (B, fits, seeds)
        per_fit = (per_fit_seed * seed_counts[:, None, :]).sum(axis=2) / n_seeds  # (B, fits)
        counts = fit_counts if h.shape[0] == n_fits else np.ones((n_boot, 1))
        return (per_fit * counts).sum(axis=1) / counts.sum(axis=1)  # (B,)

    rc, rr = replicate_recall(hc), replicate_recall(hr)
    diff_b = rc - rr

    recall, ref_recall = float(hc.mean()), float(hr.mean())
    diff = recall - ref_recall
    lift = diff / ref_recall if ref_recall > 0 else float("nan")
    # A replicate whose reference recall is 0 has lift 0 when the config's recall is 0 too and +inf when it
    # is not, so every replicate's lift has the sign of its difference; with the same order statistics for
    # both intervals the lift CI can then never contradict the verdict, which is read off the difference CI.
    # A bound that lands on such a replicate is infinite: reports show the difference CI instead.
    with np.errstate(divide="ignore", invalid="ignore"):
        lift_b = np.where(rr > 0, diff_b / np.where(rr > 0, rr, 1.0), np.where(diff_b > 0, np.inf, 0.0))
    lift_lo, lift_hi = bootstrap_interval(lift_b, ci)
    r_lo, r_hi = bootstrap_interval(rc, ci)
    d_lo, d_hi = bootstrap_interval(diff_b, ci)
    e_lo, e_hi = bootstrap_interval(diff_b, 1.0 - 2.0 * (1.0 - ci))
    verdict = verdict_of(d_lo, d_hi, e_lo, e_hi, min_effect)
    return {
        "recall": recall,
        "recall_lo": r_lo,
        "recall_hi": r_hi,
        "ref_recall": ref_recall,
        "diff": diff,
        "diff_lo": d_lo,
        "diff_hi": d_hi,
        "lift": float(lift),
        "lift_lo": lift_lo,
        "lift_hi": lift_hi,
        "verdict": verdict,
        "eq_lo": e_lo,
        "eq_hi": e_hi,
        "detectable": detectable_effect(diff_b, ci),
        "se": float(np.std(diff_b, ddof=1)) if n_boot > 1 else float("nan"),
        "n_boot": n_boot,
    }


def frauds_needed(n: int, detectable: float, min_effect: float | None) -> float:
    """Test frauds needed to detect `min_effect` with the power of `detectable`: the SE shrinks as 1/sqrt(n), so
    n x (detectable / min_effect)^2 (NaN without a min_effect or a finite detectable effect)."""
    if not min_effect or not np.isfinite(detectable) or detectable <= 0:  # no variation: nothing to scale
        return float("nan")
    return float(np.ceil(n * (detectable / min_effect) ** 2))


def paired_with(hits_config, hits_ref, ev: dict, ci: float | None = None, resample_fits: bool = True) -> dict:
    """`paired_bootstrap` with the `evaluate` settings `ev` (n_boot, seed, ci, min_effect when given); `ci`
    replaces ev's (a Bonferroni-corrected interval)."""
    return paired_bootstrap(
        hits_config,
        hits_ref,
        n_boot=ev["n_boot"],
        seed=ev["seed"],
        ci=ev["ci"] if ci is None else ci,
        resample_fits=resample_fits,
        min_effect=ev.get("min_effect"),
    )


def bootstrap_interval(replicates: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates as order statistics (no interpolation between two
    replicates): the lower bound rounds down, the upper bound up, so the interval is never narrower than
    the nominal one and two statistics with the same sign in every replicate get bounds of the same sign."""
    tail = 50.0 * (1.0 - ci)
    return (
        float(np.percentile(replicates, tail, method="lower")),
        float(np.percentile(replicates, 100.0 - tail, method="higher")),
    )


def seed_mean_std(values) -> tuple[float, float]:
    """Mean and sample std (ddof=1) over seeds; std 0.0 for one value, (NaN, NaN) for none."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), 0.0
    return float(v.mean()), float(v.std(ddof=1))
