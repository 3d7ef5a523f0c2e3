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

A detector's scores on one split come in one of two forms, and every metric here reads either (`split_metrics`):
`LabelledScores`, every row's label and score (the evaluate stage's pandas path), or `ScoreSummary`, what an
out-of-core evaluate brings back from the workers (`pipeline.experiment.out_of_core.summarize_split`): every fraud
row's score, the number of legit rows, the highest legit scores, and how many legit rows score at or above each
fraud score and each threshold asked for. From these alone:

* thresholds at an FPR budget are exact (`threshold_from_top`: the top `alerts_allowed + 1` legit scores decide
  `threshold_at_fpr`), and so are recall and test FPR at them (fraud scores; a count);
* recall at a precision floor is exact: precision changes recall only at fraud scores, where the counts are
  exact (`ScoreSummary.curve`);
* precision among the top k rows is exact: the top k rows are among the fraud rows and the top k legit rows
  (ties broken by row order, as `precision_at_k` does);
* PR-AUC and ROC-AUC are exact in exact arithmetic: the curve's points where recall changes are all there, the
  legitimate rows between two fraud scores are one weighted point (`ScoreSummary.curve`); sklearn sums fewer
  terms, so the last bits of the float may differ from the pandas path's (measured: 4e-14 relative at most).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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
#: what a paired comparison (`paired_bootstrap`) reports and every comparison table writes under these names: the
#: configuration's recall, its difference to the reference and the lift, each with its CI
RECALL_CI = ("recall", "recall_lo", "recall_hi")
DIFF_CI = ("diff", "diff_lo", "diff_hi")
LIFT_CI = ("lift", "lift_lo", "lift_hi")
PAIRED_COLUMNS = (*RECALL_CI, *DIFF_CI, *LIFT_CI)


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


def alerts_allowed(n: int, budget: float) -> int:
    """The most of `n` legit rows a threshold may alert at FPR `budget`: the largest c with c / n <= budget,
    compared in floating point as `threshold_at_fpr` compares."""
    n = int(n)
    c = min(n, max(0, int(np.floor(budget * n))))
    while c < n and (c + 1) / n <= budget:
        c += 1
    while c > 0 and c / n > budget:
        c -= 1
    return c


def top_needed(n: int, budget: float) -> int:
    """How many of the highest legit scores `threshold_from_top` needs at `budget` (of `n` legit rows)."""
    return min(int(n), alerts_allowed(n, budget) + 1)


def threshold_from_top(top, n: int, budget: float) -> float:
    """`threshold_at_fpr` of `n` legit scores from their `top_needed(n, budget)` highest alone (`top`, any order;
    more are fine): with m = `alerts_allowed(n, budget)` and t_m+1 the (m+1)-th highest score, a score u of the
    top m alerts at most m rows exactly when u > t_m+1, so the threshold is the smallest top score above t_m+1
    (every row when the budget allows all n; above the max when none qualifies). Same value, same ties."""
    n = int(n)
    if n == 0:
        raise DataError("no legit rows to set the alert threshold on; the validation split needs legit rows")
    t = -np.sort(-_scores(top, "legit scores"))  # descending
    m = alerts_allowed(n, budget)
    if t.size < min(n, m + 1):
        raise ValueError(f"{t.size} top legit scores given; the threshold at {budget} of {n} rows needs {m + 1}")
    if m >= n:
        return float(t[n - 1])
    above = t[:m][t[:m] > t[m]]
    return float(above[-1]) if above.size else float(np.nextafter(t[0], np.inf))


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


def recall_at_precision(y, scores, floor: float, sample_weight=None) -> float:
    """Largest recall on the PR curve among points with precision >= floor (0.0 if none); `sample_weight`: rows
    standing for several (`ScoreSummary.curve`)."""
    y, s = _labels_scores(y, scores)
    if not (y == 1).any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(y, s, sample_weight=sample_weight)
    ok = precision >= floor
    return float(recall[ok].max()) if ok.any() else 0.0


def precision_at_k(y, scores, k: int) -> float:
    """Precision among the k highest-scored rows (k > n uses n; ties keep input order)."""
    y, s = _labels_scores(y, scores)
    if y.size == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    return float(y[order[: min(int(k), y.size)]].mean())


# ---------------------------------------------------------------------------- one split's scores


class LabelledScores:
    """Every row's label and score on one split (module doc)."""

    def __init__(self, y, scores):
        self.y, self.s = _labels_scores(y, scores)
        self.fraud = self.s[self.y == 1]
        self.legit = self.s[self.y == 0]
        self.n_legit = int(self.legit.size)

    def threshold(self, budget: float) -> float:
        return threshold_at_fpr(self.legit, budget)

    def legit_share_at_or_above(self, t: float) -> float:
        return _share_at_or_above(self.legit, t) if self.n_legit else float("nan")

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(labels, scores, weights) that give this split's PR and ROC curves: every row, unweighted."""
        return self.y, self.s, None

    def head(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) of rows, in row order, that hold the k highest-scored rows: every row."""
        return self.y, self.s


@dataclass(frozen=True)
class ScoreSummary:
    """One detector's scores on one split, reduced to what the metrics need (module doc): the fraud rows and as many
    legit scores as the FPR budgets and top k need, whatever the number of rows.

    `fraud_rows` and `top_rows` are row positions (any key increasing in row order); `top` holds the highest legit
    scores in (score descending, row ascending) order; `legit_ge` / `legit_gt` count, per fraud row, the legit rows
    scoring at or above / strictly above its score; `at` counts the legit rows at or above each threshold asked for.
    """

    n_legit: int
    fraud: np.ndarray
    fraud_rows: np.ndarray
    top: np.ndarray
    top_rows: np.ndarray
    legit_ge: np.ndarray
    legit_gt: np.ndarray
    at: dict[float, int] = field(default_factory=dict)

    def threshold(self, budget: float) -> float:
        return threshold_from_top(self.top, self.n_legit, budget)

    def legit_share_at_or_above(self, t: float) -> float:
        """Share of legit rows scoring >= t: a threshold counted on the workers, one the top scores decide (every
        legit row, or a threshold above the lowest of them), or a fraud score."""
        if not self.n_legit:
            return float("nan")
        if t in self.at:
            count = self.at[t]
        elif self.top.size == self.n_legit or (self.top.size and self.top[-1] < t):
            count = int((self.top >= t).sum())
        elif t in self.fraud:
            count = int(self.legit_ge[np.flatnonzero(self.fraud == t)[0]])
        else:
            raise ValueError(f"the score summary counts no legit rows at {t!r}; ask for it when summarizing")
        return count / self.n_legit

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, scores, weights) with this split's PR and ROC curve at every fraud score: the fraud rows, then
        one weighted legit point at each fraud score (its ties) and one between each two (the legit rows in
        between, at a score that splits the rows the same way; nothing lies between two adjacent floats)."""
        v, first = np.unique(self.fraud, return_index=True)
        v, ge, gt = v[::-1], self.legit_ge[first][::-1], self.legit_gt[first][::-1]  # descending fraud scores
        if v.size == 0:
            return np.zeros(1, dtype=np.int8), np.zeros(1), np.array([float(self.n_legit)])
        points = np.r_[np.nextafter(v[0], np.inf), v, np.nextafter(v[1:], np.inf), np.nextafter(v[-1], -np.inf)]
        counts = np.r_[gt[0], ge - gt, gt[1:] - ge[:-1], self.n_legit - ge[-1]]
        keep = counts > 0
        y = np.r_[np.ones(self.fraud.size, dtype=np.int8), np.zeros(int(keep.sum()), dtype=np.int8)]
        return y, np.r_[self.fraud, points[keep]], np.r_[np.ones(self.fraud.size), counts[keep].astype(float)]

    def head(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) of the fraud rows and the top legit rows, in row order: they hold the k highest-scored
        rows for every k up to `top.size` (ties in row order, as `precision_at_k` breaks them)."""
        if self.top.size < min(int(k), self.n_legit):
            raise ValueError(f"the score summary holds {self.top.size} top legit scores; precision at {k} needs {k}")
        rows = np.r_[self.fraud_rows, self.top_rows]
        order = np.argsort(rows, kind="stable")
        y = np.r_[np.ones(self.fraud.size, dtype=np.int8), np.zeros(self.top.size, dtype=np.int8)]
        return y[order], np.r_[self.fraud, self.top][order]


def as_scores(y, scores) -> LabelledScores | ScoreSummary:
    """A split's scores as the metrics read them: a `ScoreSummary` as it is, an array with its labels `y`."""
    return scores if isinstance(scores, ScoreSummary) else LabelledScores(y, scores)


def recall_of(split: LabelledScores | ScoreSummary, t: float) -> float:
    """Share of the split's fraud rows with score >= t (`recall_at_threshold`); NaN if there are none."""
    return _share_at_or_above(split.fraud, t) if split.fraud.size else float("nan")


def average_precision(split: LabelledScores | ScoreSummary) -> float:
    """Average precision (PR-AUC) of a split's scores."""
    y, s, w = split.curve()
    return float(average_precision_score(y, s, sample_weight=w))


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
    return split_metrics(
        LabelledScores(y_valid, s_valid), LabelledScores(y_test, s_test), fpr_budgets, precision_floors, top_k
    )


def split_metrics(
    valid: LabelledScores | ScoreSummary,
    test: LabelledScores | ScoreSummary,
    fpr_budgets: Sequence[float],
    precision_floors: Sequence[float],
    top_k: Sequence[int],
) -> dict[str, float]:
    """`detector_metrics` of a detector's scores on the validation and test splits, in either form (module doc)."""
    names = metric_names(fpr_budgets, precision_floors, top_k)
    n_pos, n_neg = int(test.fraud.size), int(test.n_legit)
    if n_pos == 0 or n_neg == 0:
        raise DataError(
            f"the test split needs both classes (has {n_pos} fraud, {n_neg} legit rows); use a longer test window"
        )
    out: dict[str, float] = {}
    for b in fpr_budgets:
        p = pct_label(b)
        t = valid.threshold(b)
        out[f"recall_at_fpr_{p}"] = _share_at_or_above(test.fraud, t)
        out[f"test_fpr_at_fpr_{p}"] = test.legit_share_at_or_above(t)
        out[f"threshold_at_fpr_{p}"] = float(t)
    y_curve, s_curve, w_curve = test.curve()
    for f in precision_floors:
        out[f"recall_at_precision_{pct_label(f)}"] = recall_at_precision(y_curve, s_curve, f, sample_weight=w_curve)
    for k in top_k:
        out[f"precision_at_top_{int(k)}"] = precision_at_k(*test.head(int(k)), int(k))
    # clip: average_precision_score can return 1.0000000000000002 from float summation
    out["pr_auc"] = float(np.clip(average_precision_score(y_curve, s_curve, sample_weight=w_curve), 0.0, 1.0))
    out["roc_auc"] = float(roc_auc_score(y_curve, s_curve, sample_weight=w_curve))
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
