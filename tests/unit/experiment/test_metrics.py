"""Unit tests for pipeline.experiment.metrics: hand-computed cases, invariants, paired bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.errors import DataError
from pipeline.experiment.metrics import (
    LabelledScores,
    ScoreSummary,
    alerts_allowed,
    detector_metrics,
    fpr_at_threshold,
    metric_names,
    paired_bootstrap,
    pct_label,
    precision_at_k,
    recall_at_precision,
    recall_at_threshold,
    seed_mean_std,
    split_metrics,
    threshold_at_fpr,
    threshold_from_top,
    top_needed,
)

# 10 legit / 4 fraud with known scores (no ties between classes).
LEGIT = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
FRAUD = np.array([0.35, 0.75, 0.92, 0.99])
Y = np.r_[np.zeros(10, int), np.ones(4, int)]
S = np.r_[LEGIT, FRAUD]
# Descending order: 0.99F 0.95L 0.92F 0.9L 0.8L 0.75F 0.7L 0.6L 0.5L 0.4L 0.35F 0.3L 0.2L 0.1L


# ---------------------------------------------------------------------------- threshold


@pytest.mark.parametrize(
    "budget, expected",
    [(0.1, 0.95), (0.2, 0.9), (0.35, 0.8), (0.3, 0.8), (0.99, 0.2), (0.5, 0.6)],
)
def test_threshold_at_fpr_hand_computed(budget, expected):
    assert threshold_at_fpr(LEGIT, budget) == expected


def test_threshold_above_max_when_budget_too_small():
    t = threshold_at_fpr(LEGIT, 0.05)
    assert t == np.nextafter(0.95, np.inf)
    assert np.mean(LEGIT >= t) == 0.0


def test_threshold_with_ties_never_exceeds_budget():
    legit = np.r_[np.full(5, 0.5), np.full(5, 0.1)]
    assert threshold_at_fpr(legit, 0.3) == np.nextafter(0.5, np.inf)
    assert threshold_at_fpr(legit, 0.5) == 0.5
    assert threshold_at_fpr(np.full(10, 0.7), 0.5) == np.nextafter(0.7, np.inf)


def test_threshold_heavy_ties_property():
    rng = np.random.default_rng(1)
    for _ in range(30):
        legit = rng.integers(0, 6, size=rng.integers(5, 200)).astype(float)
        for budget in (0.001, 0.01, 0.05, 0.2, 0.5, 0.9):
            t = threshold_at_fpr(legit, budget)
            assert np.mean(legit >= t) <= budget
            # minimal: the next lower legit value would exceed the budget
            lower = legit[legit < t]
            if lower.size:
                assert np.mean(legit >= lower.max()) > budget


def test_threshold_no_legit_rows():
    with pytest.raises(DataError):
        threshold_at_fpr([], 0.1)


def test_alerts_allowed_compares_as_threshold_at_fpr():
    for n in (1, 3, 7, 10, 49, 1000, 99991):
        for budget in (0.0, 1e-9, 0.001, 0.005, 0.01, 0.02, 0.1, 0.3, 0.7, 1.0):
            m = alerts_allowed(n, budget)
            assert m / n <= budget and (m == n or (m + 1) / n > budget), (n, budget, m)


TOP_BUDGETS = (0.0, 0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3, 0.5, 0.999, 1.0)


@pytest.mark.parametrize("ties", [None, 2, 30])
def test_threshold_from_the_top_legit_scores_is_exactly_threshold_at_fpr(ties):
    """The out-of-core evaluate's threshold: from the `top_needed` highest legit scores alone, the same float as
    `threshold_at_fpr` on every score, with continuous scores and with blocks of ties (rounded scores), where the
    threshold falls inside, at the edge of and above a tied block; one score fewer is refused."""
    rng = np.random.default_rng(11)
    for _ in range(60):
        n = int(rng.integers(1, 3000))
        legit = rng.beta(1, 8, n)
        if ties:
            legit = np.round(legit * ties) / ties
        desc = np.sort(legit)[::-1]
        for budget in TOP_BUDGETS:
            k = top_needed(n, budget)
            expected = threshold_at_fpr(legit, budget)
            assert threshold_from_top(desc[:k], n, budget) == expected, (n, budget)
            assert threshold_from_top(rng.permutation(desc[: k + 5]), n, budget) == expected  # more, any order
            if k > 1:
                with pytest.raises(ValueError, match="needs"):
                    threshold_from_top(desc[: k - 1], n, budget)


def test_threshold_from_top_hand_computed_and_tied_block():
    desc = np.sort(LEGIT)[::-1]
    for budget, expected in [(0.1, 0.95), (0.2, 0.9), (0.35, 0.8), (0.99, 0.2), (0.05, np.nextafter(0.95, np.inf))]:
        assert threshold_from_top(desc[: top_needed(10, budget)], 10, budget) == expected
    tied = np.r_[np.full(5, 0.5), np.full(5, 0.1)]  # the block of 0.5 straddles 3 allowed alerts: above it
    assert threshold_from_top([0.5, 0.5, 0.5, 0.5], 10, 0.3) == np.nextafter(0.5, np.inf) == threshold_at_fpr(tied, 0.3)
    assert threshold_from_top([1.0], 1, 1.0) == 1.0
    with pytest.raises(DataError):
        threshold_from_top([], 0, 0.1)


def summary_of(y, s, k: int, thresholds=()) -> ScoreSummary:
    """A `ScoreSummary` of full arrays by brute force (what the workers' reductions compute part by part)."""
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    rows = np.arange(y.size)
    fraud, legit = y == 1, y == 0
    top = np.lexsort((rows[legit], -s[legit]))[:k]
    return ScoreSummary(
        n_legit=int(legit.sum()),
        fraud=s[fraud],
        fraud_rows=rows[fraud],
        top=s[legit][top],
        top_rows=rows[legit][top],
        legit_ge=np.array([(s[legit] >= v).sum() for v in s[fraud]], dtype=int),
        legit_gt=np.array([(s[legit] > v).sum() for v in s[fraud]], dtype=int),
        at={float(t): int((s[legit] >= t).sum()) for t in thresholds},
    )


@pytest.mark.parametrize("ties", [None, 20])
def test_every_metric_from_a_score_summary_equals_the_full_scores(ties):
    """`split_metrics` of summaries (fraud scores, top legit scores, counts) against `detector_metrics` of every
    score: identical floats for every metric but the two areas, which differ at most in the last bits (sklearn sums
    fewer terms); ties between fraud and legit rows, across the top-k cut and at the thresholds included."""
    rng = np.random.default_rng(5)
    budgets, floors, top_k = [0.001, 0.005, 0.01, 0.02, 0.2], [0.1, 0.5, 0.8, 0.99], [1, 10, 100, 500]
    for _ in range(12):
        n = int(rng.integers(200, 4000))
        y_v, y_t = (rng.random(n) < 0.04).astype(int), (rng.random(n) < 0.04).astype(int)
        s_v, s_t = rng.beta(1, 6, n) + 0.4 * y_v * rng.random(n), rng.beta(1, 6, n) + 0.4 * y_t * rng.random(n)
        if ties:
            s_v, s_t = np.round(s_v * ties) / ties, np.round(s_t * ties) / ties
        if not y_t.any() or y_t.all():
            continue
        full = detector_metrics(y_v, s_v, y_t, s_t, budgets, floors, top_k)
        valid = summary_of(y_v, s_v, max(top_needed((y_v == 0).sum(), b) for b in budgets))
        test = summary_of(y_t, s_t, max(top_k), [valid.threshold(b) for b in budgets])
        ooc = split_metrics(valid, test, budgets, floors, top_k)
        assert list(ooc) == list(full)
        for name in full:
            if name in ("pr_auc", "roc_auc"):
                assert ooc[name] == pytest.approx(full[name], rel=1e-12, abs=1e-15), name
            else:
                assert ooc[name] == full[name], name


def test_a_summary_refuses_what_it_cannot_answer():
    y = np.r_[np.zeros(50, int), np.ones(5, int)]
    s = np.r_[np.linspace(0, 0.5, 50), np.linspace(0.3, 0.9, 5)]
    summary = summary_of(y, s, 10, [0.25])
    assert summary.legit_share_at_or_above(0.25) == LabelledScores(y, s).legit_share_at_or_above(0.25)
    assert summary.legit_share_at_or_above(0.45) == float(np.mean(s[:50] >= 0.45))  # decided by the top 10
    with pytest.raises(ValueError, match="counts no legit rows"):
        summary.legit_share_at_or_above(0.1)
    with pytest.raises(ValueError, match="precision at 20"):
        summary.head(20)
    with pytest.raises(ValueError, match="needs"):
        summary.threshold(0.5)


# ---------------------------------------------------------------------------- simple metrics


def test_recall_and_fpr_at_threshold():
    assert recall_at_threshold(Y, S, 0.8) == 0.5
    assert fpr_at_threshold(Y, S, 0.8) == 0.3
    assert recall_at_threshold(Y, S, 0.35) == 1.0  # >= is inclusive
    assert fpr_at_threshold(Y, S, 1.0) == 0.0
    assert math.isnan(recall_at_threshold(np.zeros(3, int), [0.1, 0.2, 0.3], 0.2))


@pytest.mark.parametrize("floor, expected", [(1.0, 0.25), (0.6, 0.5), (0.5, 0.75), (0.3, 1.0), (0.01, 1.0)])
def test_recall_at_precision_hand_computed(floor, expected):
    assert recall_at_precision(Y, S, floor) == pytest.approx(expected)


def test_recall_at_precision_none_reaches_floor():
    y = np.array([0, 0, 1])
    s = np.array([0.9, 0.8, 0.1])  # fraud ranked last: best precision is 1/3 at recall 1
    assert recall_at_precision(y, s, 0.5) == 0.0


@pytest.mark.parametrize("k, expected", [(1, 1.0), (2, 0.5), (3, 2 / 3), (6, 0.5), (100, 4 / 14)])
def test_precision_at_k_hand_computed(k, expected):
    assert precision_at_k(Y, S, k) == pytest.approx(expected)


def test_precision_at_k_ties_stable():
    y = np.array([0, 1, 1, 0])
    s = np.array([0.5, 0.5, 0.5, 0.1])
    assert precision_at_k(y, s, 1) == 0.0  # first of the tied rows in input order
    assert precision_at_k(y, s, 2) == 0.5


@pytest.mark.parametrize(
    "x, label",
    [(0.001, "0.1pct"), (0.01, "1pct"), (0.005, "0.5pct"), (0.5, "50pct"), (0.0001, "0.01pct"), (0.9, "90pct")],
)
def test_pct_label(x, label):
    assert pct_label(x) == label


# ---------------------------------------------------------------------------- bundle


BUDGETS, FLOORS, TOPK = [0.1, 0.35], [0.5], [3]


def test_metric_names():
    assert metric_names(BUDGETS, FLOORS, TOPK) == [
        "recall_at_fpr_10pct",
        "test_fpr_at_fpr_10pct",
        "threshold_at_fpr_10pct",
        "recall_at_fpr_35pct",
        "test_fpr_at_fpr_35pct",
        "threshold_at_fpr_35pct",
        "recall_at_precision_50pct",
        "precision_at_top_3",
        "pr_auc",
        "roc_auc",
    ]


def test_detector_metrics_hand_computed():
    # validation legit rows set the thresholds; test = the hand-computed set above
    y_valid = np.r_[np.zeros(10, int), [1]]
    s_valid = np.r_[LEGIT, [0.0]]  # the validation fraud row must not affect the threshold
    m = detector_metrics(y_valid, s_valid, Y, S, BUDGETS, FLOORS, TOPK)
    assert list(m) == metric_names(BUDGETS, FLOORS, TOPK)
    assert m["threshold_at_fpr_10pct"] == 0.95
    assert m["recall_at_fpr_10pct"] == 0.25  # only the 0.99 fraud is >= 0.95
    assert m["test_fpr_at_fpr_10pct"] == 0.1
    assert m["threshold_at_fpr_35pct"] == 0.8
    assert m["recall_at_fpr_35pct"] == 0.5
    assert m["test_fpr_at_fpr_35pct"] == 0.3
    assert m["recall_at_precision_50pct"] == pytest.approx(0.75)
    assert m["precision_at_top_3"] == pytest.approx(2 / 3)
    assert m["pr_auc"] == pytest.approx(0.25 * (1 + 2 / 3 + 0.5 + 4 / 11))
    assert m["roc_auc"] == pytest.approx(29 / 40)


def test_detector_metrics_threshold_from_validation_not_test():
    y_valid = np.r_[np.zeros(10, int), [1]]
    s_valid = np.r_[LEGIT / 10, [0.5]]  # validation legit scores are all low
    m = detector_metrics(y_valid, s_valid, Y, S, [0.1], [], [])
    assert m["threshold_at_fpr_10pct"] == 0.095
    assert m["recall_at_fpr_10pct"] == 1.0
    assert m["test_fpr_at_fpr_10pct"] == 1.0  # realised test FPR far above the budget


def test_detector_metrics_invariants_and_monotone():
    rng = np.random.default_rng(7)
    n = 2000
    y_v, y_t = (rng.random(n) < 0.05).astype(int), (rng.random(n) < 0.05).astype(int)
    s_v, s_t = rng.normal(size=n) + 1.5 * y_v, rng.normal(size=n) + 1.5 * y_t
    budgets = [0.001, 0.005, 0.01, 0.05, 0.2]
    m = detector_metrics(y_v, s_v, y_t, s_t, budgets, [0.5, 0.9], [10, 100])
    for name, v in m.items():
        if not name.startswith("threshold"):
            assert 0.0 <= v <= 1.0, name
    recalls = [m[f"recall_at_fpr_{pct_label(b)}"] for b in budgets]
    assert recalls == sorted(recalls)


def test_detector_metrics_perfect_scores():
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.1).astype(int)
    s = y + rng.random(500) * 0.5
    m = detector_metrics(y, s, y, s, [0.001, 0.01, 0.1], [0.99], [int(y.sum())])
    for b in ("0.1pct", "1pct", "10pct"):
        assert m[f"recall_at_fpr_{b}"] == 1.0
        assert m[f"test_fpr_at_fpr_{b}"] <= float(b[:-3]) / 100
    assert m["pr_auc"] == 1.0 and m["roc_auc"] == 1.0
    assert m["recall_at_precision_99pct"] == 1.0
    assert m[f"precision_at_top_{int(y.sum())}"] == 1.0


def test_detector_metrics_needs_both_classes_on_test():
    with pytest.raises(DataError):
        detector_metrics(Y, S, np.zeros(5, int), np.arange(5.0), [0.1], [], [])


# ---------------------------------------------------------------------------- bootstrap


def _hits(p, shape, seed):
    return np.random.default_rng(seed).random(shape) < p


def test_bootstrap_identical_hits_no_effect():
    h = _hits(0.4, (5, 60), 0)
    r = paired_bootstrap(h, h.copy(), n_boot=300, seed=1)
    assert r["diff"] == 0 and r["diff_lo"] == 0 and r["diff_hi"] == 0
    assert r["lift"] == 0 and r["lift_lo"] == 0 and r["lift_hi"] == 0
    assert r["verdict"] == "no clear effect"
    assert r["recall"] == pytest.approx(h.mean()) and r["ref_recall"] == pytest.approx(h.mean())
    assert r["recall_lo"] <= r["recall"] <= r["recall_hi"]
    assert r["n_boot"] == 300


def test_bootstrap_helps_and_hurts():
    ref = _hits(0.3, (5, 200), 0)
    cfg = ref | _hits(0.5, (5, 200), 1)  # config alerts everything ref alerts, plus more
    up = paired_bootstrap(cfg, ref, n_boot=500, seed=0)
    assert up["verdict"] == "helps"
    assert up["diff_lo"] > 0 and up["lift_lo"] > 0 and up["lift"] > 0
    assert up["diff"] == pytest.approx(cfg.mean() - ref.mean())
    assert up["lift"] == pytest.approx((cfg.mean() - ref.mean()) / ref.mean())
    down = paired_bootstrap(ref, cfg, n_boot=500, seed=0)
    assert down["verdict"] == "hurts"
    assert down["diff_hi"] < 0 and down["lift_hi"] < 0


def test_bootstrap_noise_is_no_clear_effect():
    a, b = _hits(0.5, (3, 40), 0), _hits(0.5, (3, 40), 1)
    r = paired_bootstrap(a, b, n_boot=500, seed=0)
    assert r["diff_lo"] <= r["diff"] <= r["diff_hi"]
    # same hit rate, independent noise (fixed seeds): the CI must straddle 0
    assert r["diff_lo"] < 0 < r["diff_hi"]
    assert r["verdict"] == "no clear effect"


def test_bootstrap_deterministic():
    a, b = _hits(0.5, (4, 80), 0), _hits(0.4, (4, 80), 1)
    r1 = paired_bootstrap(a, b, n_boot=200, seed=5)
    r2 = paired_bootstrap(a, b, n_boot=200, seed=5)
    assert r1 == r2
    r3 = paired_bootstrap(a, b, n_boot=200, seed=6)
    assert r3["diff_lo"] != r1["diff_lo"] or r3["diff_hi"] != r1["diff_hi"]


def test_bootstrap_ref_all_zero():
    ref = np.zeros((3, 50), bool)
    cfg = _hits(0.5, (3, 50), 2)
    r = paired_bootstrap(cfg, ref, n_boot=200, seed=0)
    assert r["ref_recall"] == 0.0
    assert math.isnan(r["lift"])  # undefined: reports say so instead of printing a percentage
    assert r["lift_lo"] == r["lift_hi"] == math.inf and r["verdict"] == "helps"


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    p_cfg=st.floats(0.0, 0.4),
    p_ref=st.floats(0.0, 0.4),
    n_rows=st.integers(3, 40),
    n_seeds=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_lift_ci_never_contradicts_the_verdict(p_cfg, p_ref, n_rows, n_seeds, seed):
    """Small test sets with low recall: the reference recall is 0 in some bootstrap draws (issue: a lift CI
    of -100%..-100% beside 'no clear effect')."""
    cfg = _hits(p_cfg, (n_seeds, n_rows), seed)
    ref = _hits(p_ref, (n_seeds, n_rows), seed + 1)
    r = paired_bootstrap(cfg, ref, n_boot=200, seed=seed)
    lo, hi = r["lift_lo"], r["lift_hi"]
    assert (r["verdict"] == "helps") == (lo > 0) == (r["diff_lo"] > 0)
    assert (r["verdict"] == "hurts") == (hi < 0) == (r["diff_hi"] < 0)
    assert lo <= hi and r["diff_lo"] <= r["diff_hi"]


def test_bootstrap_single_seed_and_int_input():
    h = _hits(0.5, (1, 30), 0)
    r = paired_bootstrap(h.astype(int), h[0], n_boot=100)
    assert r["diff"] == 0


def test_bootstrap_shape_mismatch():
    with pytest.raises(ValueError, match="same \\(n_seeds, n_test_frauds\\)"):
        paired_bootstrap(np.ones((3, 10), bool), np.ones((3, 11), bool))
    with pytest.raises(ValueError, match="same \\(n_seeds, n_test_frauds\\)"):
        paired_bootstrap(np.ones((2, 10), bool), np.ones((3, 10), bool))
    with pytest.raises(ValueError, match="pair equal numbers of fits"):
        paired_bootstrap(np.ones((2, 3, 10), bool), np.ones((3, 3, 10), bool))


def test_fit_level_matches_known_fit_seed_variance():
    """Rows and detector seeds carry no variance (within a fit every row is alerted or none is), so the
    replicate recall is (number of drawn 'good' fits) / F: Binomial(F, p) / F, with std sqrt(p (1-p) / F)."""
    n_fits, good = 8, 3  # p = 3/8
    hc = np.zeros((n_fits, 2, 40), bool)
    hc[:good] = True
    hr = np.zeros((2, 40), bool)  # the baseline: one "fit" (no generator)
    p = good / n_fits
    out = paired_bootstrap(hc, hr, n_boot=4000, seed=1, ci=0.95)
    assert out["recall"] == pytest.approx(p)
    assert out["diff"] == pytest.approx(p)
    # the 95% interval of Binomial(8, 3/8)/8 is [1/8, 5/8] or [1/8, 6/8] (order statistics round outwards)
    assert out["recall_lo"] == pytest.approx(1 / 8)
    assert out["recall_hi"] in (pytest.approx(5 / 8), pytest.approx(6 / 8))
    # without drawing fits the interval collapses to the mean: all of its width came from the fits
    fixed = paired_bootstrap(hc, hr, n_boot=4000, seed=1, ci=0.95, resample_fits=False)
    assert fixed["recall_lo"] == fixed["recall_hi"] == pytest.approx(p)
    assert fixed["diff_lo"] == fixed["diff_hi"] == pytest.approx(p)


def test_fit_level_std_is_binomial():
    rng = np.random.default_rng(0)
    n_fits = 5
    good = rng.random(n_fits) < 0.5
    good[:2] = [True, False]
    hc = np.repeat(good[:, None, None], 3, axis=1).repeat(30, axis=2)
    p = good.mean()
    b = paired_bootstrap(hc, np.zeros((3, 30), bool), n_boot=20000, seed=3, ci=0.6827)
    # the one-sigma interval spans about 2 * sqrt(p (1 - p) / F) (coarse: the replicates take F + 1 values)
    assert b["recall_hi"] - b["recall_lo"] == pytest.approx(2 * np.sqrt(p * (1 - p) / n_fits), abs=0.2)


def test_single_fit_three_level_equals_two_level():
    rng = np.random.default_rng(4)
    hc, hr = rng.random((3, 50)) < 0.6, rng.random((3, 50)) < 0.5
    two = paired_bootstrap(hc, hr, n_boot=500, seed=2)
    three = paired_bootstrap(hc[None], hr[None], n_boot=500, seed=2)
    assert two == three


def test_paired_fits_cancel_shared_fit_noise():
    """Equal numbers of fits are paired (scarcity repeats): a config that is the reference plus a constant
    gain in every fit has a CI that sits on the gain, however much the fits differ from each other."""
    hr = np.zeros((6, 2, 60), bool)
    for f in range(6):
        hr[f, :, : 10 * f] = True  # recall 0 .. 0.83 across fits
    hc = hr.copy()
    hc[:, :, 55:] = True  # the same 5 extra rows alerted in every fit
    b = paired_bootstrap(hc, hr, n_boot=1000, seed=0)
    assert b["verdict"] == "helps"
    assert b["diff_lo"] > 0


def test_seed_mean_std():
    assert seed_mean_std([0.5]) == (0.5, 0.0)
    m, s = seed_mean_std([1.0, 2.0, 3.0])
    assert m == 2.0 and s == pytest.approx(1.0)


# ---------------------------------------------------------------------------- five verdicts, detectable effect


def test_verdict_of_the_five_words():
    from pipeline.experiment.metrics import verdict_of

    assert verdict_of(0.01, 0.05, 0.02, 0.04, 0.03) == "helps"  # above 0, even inside +-min_effect
    assert verdict_of(-0.05, -0.01, -0.04, -0.02, 0.03) == "hurts"
    assert verdict_of(-0.02, 0.02, -0.015, 0.015, 0.03) == "equivalent"
    assert verdict_of(-0.02, 0.06, -0.01, 0.05, 0.03) == "inconclusive"  # reaches past +min_effect
    assert verdict_of(-0.02, 0.02, -0.015, 0.015, None) == "no clear effect"  # no min_effect: one word


def _equal_hits(n_rows, seeds=3, rate=0.5, seed=0, flip=0.0):
    rng = np.random.default_rng(seed)
    ref = rng.random((seeds, n_rows)) < rate
    cfg = ref ^ (rng.random((seeds, n_rows)) < flip)  # a few frauds differ at random, in both directions
    return cfg, ref


def test_many_frauds_and_no_difference_is_equivalent_few_is_inconclusive():
    cfg, ref = _equal_hits(4000, flip=0.02)
    big = paired_bootstrap(cfg, ref, n_boot=400, seed=0, min_effect=0.03)
    assert big["verdict"] == "equivalent" and -0.03 < big["eq_lo"] <= big["eq_hi"] < 0.03
    cfg, ref = _equal_hits(60, flip=0.1)
    small = paired_bootstrap(cfg, ref, n_boot=400, seed=0, min_effect=0.03)
    assert small["verdict"] == "inconclusive"
    # the 1 - 2 alpha interval sits inside the 1 - alpha one; the detectable effect shrinks as 1/sqrt(n)
    assert small["diff_lo"] <= small["eq_lo"] <= small["eq_hi"] <= small["diff_hi"]
    quad = paired_bootstrap(np.tile(cfg, (1, 4)), np.tile(ref, (1, 4)), n_boot=2000, seed=0, min_effect=0.03)
    assert quad["detectable"] == pytest.approx(small["detectable"] / 2, rel=0.2)  # 4x the frauds, same pattern
    assert small["detectable"] == pytest.approx(2.8016 * small["se"], rel=1e-3)  # z(0.975) + z(0.8)


def test_frauds_needed_to_detect_min_effect():
    from pipeline.experiment.metrics import frauds_needed

    assert frauds_needed(100, 0.06, 0.03) == 400  # half the detectable effect needs four times the frauds
    assert np.isnan(frauds_needed(100, 0.06, None)) and np.isnan(frauds_needed(100, float("nan"), 0.03))
    assert np.isnan(frauds_needed(100, 0.0, 0.03))  # every detector alerts the same frauds: nothing to scale


def test_the_summary_curve_has_every_corner_of_the_full_pr_curve():
    """`ScoreSummary.curve` keeps the PR curve's point at every fraud score (where recall steps up) exactly: same
    precision and recall as the full scores' curve at that threshold, and no point the full curve lacks."""
    from sklearn.metrics import precision_recall_curve

    rng = np.random.default_rng(2)
    y = (rng.random(3000) < 0.05).astype(int)
    s = np.round(rng.beta(1, 5, 3000) + 0.3 * y * rng.random(3000), 3)
    p_full, r_full, t_full = precision_recall_curve(y, s)
    full = {t: (p, r) for p, r, t in zip(p_full, r_full, t_full)}
    ys, ss, ws = summary_of(y, s, 10).curve()
    p_sum, r_sum, t_sum = precision_recall_curve(ys, ss, sample_weight=ws)
    points = dict(zip(t_sum, zip(p_sum, r_sum)))
    for v in np.unique(s[y == 1]):
        assert points[v] == full[v]
    corners = set(full.values())
    for p, r in points.values():  # a collapsed legit point: the full curve's point at some legit score
        assert (p, r) in corners
