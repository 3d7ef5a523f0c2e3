"""Quality and privacy gate of one synthetic pool."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.config.params import defaults
from pipeline.core.schema import Feature, Schema
from pipeline.quality.gate import (
    STATUS_FLAGGED,
    STATUS_PASSED,
    STATUS_TOO_FEW,
    assess_pool,
    detection_excess,
    threshold_keys,
)
from pipeline.quality.reports import failed_checks

LIMITS = {k: defaults()["quality"][k] for k in threshold_keys()}  # the shipped defaults, from the one spec

SCHEMA = Schema(
    label="is_fraud",
    features=[
        Feature("amount", "numerical", "float64"),
        Feature("score", "numerical", "float64"),
        Feature("n_items", "numerical", "int64"),
        Feature("channel", "categorical", "object", ["app", "atm", "pos", "web"]),
    ],
)


def draw(rng, n, shift=0.0):
    """Correlated mixed rows; `shift` moves the whole distribution far away."""
    score = rng.normal(shift, 1, n)
    return pd.DataFrame(
        {
            "amount": np.exp(3 + 0.8 * score + rng.normal(0, 0.5, n) + shift),
            "score": score,
            "n_items": rng.poisson(3 + 5 * shift, n),
            "channel": rng.choice(
                ["app", "atm", "pos", "web"], n, p=[0.7, 0.1, 0.1, 0.1] if shift else [0.4, 0.1, 0.2, 0.3]
            ),
        }
    )


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(42)
    return {"seed": draw(rng, 300), "holdout": draw(rng, 150), "same": draw(rng, 900), "far": draw(rng, 900, shift=4.0)}


def test_copied_pool_fails(frames):
    pool = pd.concat([frames["seed"]] * 2, ignore_index=True)
    report = assess_pool(frames["seed"], pool, frames["holdout"], SCHEMA, LIMITS)
    assert report["exact_copy_share"] == 1.0
    assert report["checks"]["exact_copy_share"]["passed"] is False
    assert report["dcr"]["pool"]["median"] == 0.0 and report["dcr_ratio"] == 0.0
    assert report["checks"]["dcr_ratio"]["passed"] is False
    assert report["passed"] is False
    assert report["n_seed"] == 300 and report["n_pool"] == 600 and report["n_holdout"] == 150
    json.dumps(report)


def test_pool_from_same_distribution_passes(frames):
    report = assess_pool(frames["seed"], frames["same"], frames["holdout"], SCHEMA, LIMITS, seed=1)
    assert report["exact_copy_share"] == 0.0
    assert report["checks"]["exact_copy_share"]["passed"] is True
    assert 0.7 < report["dcr_ratio"] < 1.4
    assert report["checks"]["dcr_ratio"]["passed"] is True
    assert abs(report["detection_auc"] - 0.5) < 0.1
    assert report["quality_error"] is None and report["quality_score"] > 0.8
    assert report["column_shapes"] is not None and report["column_pair_trends"] is not None
    assert report["passed"] is True
    assert set(report["checks"]) == {
        "quality_score",
        "quality_score_drop",
        "exact_copy_share",
        "dcr_ratio",
        "detection_auc",
        "detection_auc_excess",
    }
    for check in report["checks"].values():
        assert set(check) == {"value", "threshold", "passed"}
    json.dumps(report)


def test_pool_from_different_distribution_is_detected(frames):
    report = assess_pool(frames["seed"], frames["far"], frames["holdout"], SCHEMA, LIMITS)
    assert report["detection_auc"] > 0.95
    assert report["checks"]["detection_auc_excess"]["passed"] is False
    assert report["checks"]["detection_auc"]["passed"] is None  # the absolute bar is off by default
    assert report["quality_score"] < LIMITS["min_quality_score"]
    assert report["passed"] is False


def test_pool_is_subsampled_to_max_rows(frames):
    report = assess_pool(frames["seed"], frames["same"], frames["holdout"], SCHEMA, LIMITS, max_rows=200)
    assert report["n_pool"] == 900 and report["n_pool_evaluated"] == 200


def test_detection_compares_at_most_max_rows_a_side_for_the_pool_and_the_reference(frames):
    """A large table's held-out frauds are subsampled like the pool: both detection AUCs carry the noise of the same
    number of rows, and the reference's bootstrap stays bounded (97,571 rows a side took 4.2 GiB)."""
    report = assess_pool(frames["seed"], frames["same"], frames["holdout"], SCHEMA, LIMITS, max_rows=100)
    assert report["detection_auc_rows"] == report["detection_auc_real_reference_rows"] == 100
    full = assess_pool(frames["seed"], frames["same"], frames["holdout"], SCHEMA, LIMITS)
    assert full["detection_auc_rows"] == 300 and full["detection_auc_real_reference_rows"] == 150  # under the cap


def test_empty_holdout_leaves_ratio_unevaluated(frames):
    report = assess_pool(frames["seed"], frames["same"], frames["holdout"].iloc[:0], SCHEMA, LIMITS)
    assert report["n_holdout"] == 0
    assert report["dcr"]["holdout"] is None and report["dcr_ratio"] is None
    assert report["checks"]["dcr_ratio"] == {"value": None, "threshold": 0.5, "passed": None}
    assert report["passed"] is True


def test_thresholds_override_and_disable(frames):
    report = assess_pool(
        frames["seed"], frames["same"], frames["holdout"], SCHEMA, thresholds={**LIMITS, "max_detection_auc": 0.1}
    )
    assert report["checks"]["detection_auc"]["threshold"] == 0.1 and report["passed"] is False
    assert failed_checks(report) == ["detection_auc"]
    off = assess_pool(
        frames["seed"], frames["same"], frames["holdout"], SCHEMA, thresholds={**LIMITS, "max_detection_auc": None}
    )
    assert off["checks"]["detection_auc"]["passed"] is None and "detection_auc" not in failed_checks(off)


def test_threshold_keys_are_the_quality_params():
    assert set(threshold_keys()) == set(defaults()["quality"]) - {"exclude_failed"}


def test_calibrated_gate_flags_shuffled_columns_and_passes_real_held_out_frauds():
    """A pool of real frauds the generator never saw passes the calibrated checks: by definition it is as far
    from the seed set as real new frauds are. A pool made of the seed rows' columns shuffled independently (every
    marginal right, every relation between columns broken, no row copied) is flagged by them."""

    def linked(rng, n):  # fraud rows whose columns move together (amount and items grow with the score)
        score = rng.normal(0, 1, n)
        return pd.DataFrame(
            {
                "amount": np.exp(3 + score + rng.normal(0, 0.2, n)),
                "score": score,
                "n_items": np.clip(np.round(4 + 2 * score + rng.normal(0, 0.5, n)), 0, None).astype(int),
                "channel": np.where(score > 0.5, "web", rng.choice(["app", "atm", "pos"], n)),
            }
        )

    rng = np.random.default_rng(7)
    seed, holdout, more_real = linked(rng, 400), linked(rng, 200), linked(rng, 800)
    real = assess_pool(seed, more_real, holdout, SCHEMA, LIMITS, seed=0)
    assert abs(real["detection_auc_excess"]) < 0.1 and abs(real["quality_score_drop"]) < 0.1
    assert real["checks"]["detection_auc_excess"]["passed"] is True
    assert real["checks"]["quality_score_drop"]["passed"] is True
    assert real["passed"] is True

    shuffled = pd.concat([seed] * 2, ignore_index=True)
    for col in shuffled.columns:
        shuffled[col] = rng.permutation(shuffled[col].to_numpy())
    fake = assess_pool(seed, shuffled, holdout, SCHEMA, LIMITS, seed=0)
    assert fake["detection_auc_excess"] > 2 * LIMITS["max_detection_auc_excess"]
    assert fake["checks"]["detection_auc_excess"]["passed"] is False and fake["passed"] is False
    assert fake["quality_score"] > LIMITS["min_quality_score"]  # the absolute quality floor alone misses it


def test_calibrated_checks_need_real_held_out_frauds(frames):
    report = assess_pool(frames["seed"], frames["far"], frames["holdout"].iloc[:5], SCHEMA, LIMITS)
    assert report["detection_auc_real_reference"] is None and report["quality_score_real_reference"] is None
    assert report["checks"]["detection_auc_excess"]["passed"] is None  # not evaluated: it does not pass or fail
    assert report["status"] == STATUS_FLAGGED  # the far pool still fails the absolute quality floor


def test_too_few_held_out_frauds_is_its_own_status_that_does_not_flag(frames):
    """With too few real held-out frauds to measure the reference, the gate says so instead of flagging; the
    checks that need no reference (copies, the absolute floor) still flag."""
    report = assess_pool(frames["seed"], frames["same"], frames["holdout"].iloc[:5], SCHEMA, LIMITS)
    assert report["passed"] is True and report["status"] == STATUS_TOO_FEW == "not enough held-out frauds"
    assert "5 real held-out fraud(s), fewer than 10" in report["status_note"]
    assert failed_checks(report) == []
    copies = assess_pool(
        frames["seed"], pd.concat([frames["seed"]] * 2, ignore_index=True), frames["holdout"].iloc[:5], SCHEMA, LIMITS
    )
    assert copies["status"] == STATUS_FLAGGED and "exact_copy_share" in failed_checks(copies)
    ok = assess_pool(frames["seed"], frames["same"], frames["holdout"], SCHEMA, LIMITS)
    assert ok["status"] == STATUS_PASSED and "status_note" not in ok


def test_a_reference_below_chance_counts_as_chance_and_the_excess_carries_its_interval():
    rng = np.random.default_rng(0)
    pool = {"auc": 0.52, "replicates": rng.normal(0.52, 0.02, 500)}
    below = {"auc": 0.31, "replicates": rng.normal(0.31, 0.08, 500)}  # few rows: noise below chance
    out = detection_excess(pool, below)
    assert out["detection_auc_real_reference_used"] == 0.5
    assert out["detection_auc_excess"] == pytest.approx(0.02)  # not 0.21
    assert out["detection_auc_excess_lo"] < 0.02 < out["detection_auc_excess_hi"] <= 0.52 - 0.5 + 0.1
    above = detection_excess(pool, {"auc": 0.7, "replicates": rng.normal(0.7, 0.05, 500)})
    assert above["detection_auc_excess"] == pytest.approx(-0.18) and above["detection_auc_real_reference_used"] == 0.7
    assert detection_excess(None, below)["detection_auc_excess"] is None


def _linked(rng, n):
    """Fraud rows whose columns move together (amount and items grow with the score)."""
    score = rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "amount": np.exp(3 + score + rng.normal(0, 0.2, n)),
            "score": score,
            "n_items": np.clip(np.round(4 + 2 * score + rng.normal(0, 0.5, n)), 0, None).astype(int),
            "channel": np.where(score > 0.5, "web", rng.choice(["app", "atm", "pos"], n)),
        }
    )


@pytest.mark.parametrize("n_holdout", [30, 60, 100])
def test_on_small_tables_a_pool_like_real_frauds_passes(n_holdout):
    """Small tables are the use case: with 30-100 real held-out frauds the reference AUC is noise (it fell to
    0.29-0.36 on such tables and flagged pools a classifier cannot tell from real frauds). A pool drawn from the real
    frauds' own distribution (a second batch of real frauds) must pass the gate, for every seed."""
    for seed in range(3):
        rng = np.random.default_rng(1000 * n_holdout + seed)
        seed_set, holdout, pool = _linked(rng, 300), _linked(rng, n_holdout), _linked(rng, 600)
        report = assess_pool(seed_set, pool, holdout, SCHEMA, LIMITS, seed=seed)
        assert report["status"] == STATUS_PASSED, (seed, failed_checks(report), report["detection_auc_excess_lo"])
        assert report["checks"]["detection_auc_excess"]["passed"] is True  # measured, not skipped
        lo, hi = report["detection_auc_real_reference_interval"]
        assert (
            lo <= report["detection_auc_real_reference"] <= hi
            and report["detection_auc_real_reference_rows"] == n_holdout
        )


@pytest.mark.parametrize("n_holdout", [60, 100])
def test_on_small_tables_an_obviously_bad_pool_is_still_flagged(n_holdout):
    """Noise-aware is not blind: a pool with every relation between columns broken (columns shuffled), or moved
    away from the real frauds, is flagged beyond the noise at 60-100 held-out frauds."""
    for seed in range(2):
        rng = np.random.default_rng(1000 * n_holdout + seed)
        seed_set, holdout = _linked(rng, 300), _linked(rng, n_holdout)
        shuffled = pd.concat([seed_set] * 2, ignore_index=True)
        for col in shuffled.columns:
            shuffled[col] = rng.permutation(shuffled[col].to_numpy())
        shifted = _linked(rng, 600).assign(score=lambda d: d["score"] + 1.0)
        for pool in (shuffled, shifted):
            report = assess_pool(seed_set, pool, holdout, SCHEMA, LIMITS, seed=seed)
            assert report["detection_auc_excess_lo"] > LIMITS["max_detection_auc_excess"]
            assert report["checks"]["detection_auc_excess"]["passed"] is False and report["status"] == STATUS_FLAGGED


def test_sdmetrics_privacy_metrics_are_reported_beside_the_gate(frames):
    """SDMetrics' own DCR metrics: rows from the seed set's distribution are no closer to the seed rows than to
    held-out ones (score near 1, half closer); copies of seed rows are closer far more often. (The seed set is
    subsampled to the held-out size, so only the copies of the sampled seed rows sit at distance 0: the score of a
    copying pool is about 0.5, not 0.) Reported, not gating."""
    same = assess_pool(frames["seed"], frames["same"], frames["holdout"], SCHEMA, LIMITS)["sdmetrics_privacy"]
    copies = assess_pool(
        frames["seed"], pd.concat([frames["seed"]] * 2, ignore_index=True), frames["holdout"], SCHEMA, LIMITS
    )["sdmetrics_privacy"]
    assert same["error"] is None and same["dcr_overfitting_protection"] > 0.9
    assert 0.4 < same["closer_to_seed_share"] < 0.6
    assert copies["dcr_overfitting_protection"] < 0.6 and copies["closer_to_seed_share"] > 0.7
    assert copies["dcr_baseline_protection"] < same["dcr_baseline_protection"]
    # reproducible: SDMetrics' random baseline rows are seeded from the gate's seed
    again = assess_pool(frames["seed"], frames["same"], frames["holdout"], SCHEMA, LIMITS)["sdmetrics_privacy"]
    assert again == same
    assert (
        "sdmetrics_privacy"
        not in assess_pool(frames["seed"], frames["same"], frames["holdout"], SCHEMA, LIMITS)["checks"]
    )


def test_sdmetrics_privacy_measures_the_pool_against_at_most_the_reference_cap_a_side(frames, monkeypatch):
    """Above `SDMETRICS_REFERENCE_ROWS` the seed set and the held-out frauds are each a seeded sample of that many
    rows (equal sizes: a nearest neighbour among more rows is nearer by construction); below it, the held-out rows
    are all used and the figure is the uncapped one."""
    from pipeline.quality import gate

    sizes: list[int] = []
    plain = gate._for_sdmetrics
    monkeypatch.setattr(gate, "_for_sdmetrics", lambda d, s: sizes.append(len(d)) or plain(d, s))
    seed, pool, hold = frames["seed"], frames["same"], frames["holdout"]  # 300, 900 and 150 rows
    uncapped = gate._sdmetrics_privacy(seed, pool, hold, SCHEMA, 0)
    assert sizes == [150, gate.SDMETRICS_DCR_ROWS, 150] and uncapped["error"] is None
    sizes.clear()
    monkeypatch.setattr(gate, "SDMETRICS_REFERENCE_ROWS", 150)  # at the held-out size: the same rows, the same figure
    assert gate._sdmetrics_privacy(seed, pool, hold, SCHEMA, 0) == uncapped
    sizes.clear()
    monkeypatch.setattr(gate, "SDMETRICS_REFERENCE_ROWS", 60)
    capped = gate._sdmetrics_privacy(seed, pool, hold, SCHEMA, 0)
    assert sizes == [60, gate.SDMETRICS_DCR_ROWS, 60] and capped["error"] is None
    assert capped == gate._sdmetrics_privacy(seed, pool, hold, SCHEMA, 0)  # seeded


def test_the_pair_trends_of_sdmetrics_properties_equal_its_report_when_every_pair_counts(frames):
    """The path used for wide tables computes exactly SDMetrics' QualityReport when given every pair."""
    from pipeline.quality.gate import _for_sdmetrics, _sdmetrics_properties, _sdmetrics_report, column_pairs

    seed, pool = frames["seed"].copy(), frames["same"].copy()
    seed.loc[:9, "amount"], pool.loc[:4, "channel"] = np.nan, None  # missing values on both sides
    real, synthetic = _for_sdmetrics(seed, SCHEMA), _for_sdmetrics(pool, SCHEMA)
    pairs, total = column_pairs(SCHEMA)
    assert total == 6 and len(pairs) == 6
    by_report = _sdmetrics_report(real, synthetic, SCHEMA)
    by_properties = _sdmetrics_properties(real, synthetic, SCHEMA, pairs)
    assert by_properties[:3] == pytest.approx(by_report[:3], abs=1e-12)
    pd.testing.assert_frame_equal(
        by_properties[3].reset_index(drop=True)[["Column", "Score"]],
        by_report[3].reset_index(drop=True)[["Column", "Score"]],
    )


def _wide(rng, n, k, shuffle=False):
    base = rng.normal(size=n)
    frame = pd.DataFrame({f"x{i}": base * (i % 3) + rng.normal(size=n) for i in range(k)})
    if shuffle:
        frame = frame.apply(lambda c: c.sample(frac=1, random_state=int(c.name[1:])).to_numpy())
    return frame


def test_a_wide_table_scores_a_fixed_sample_of_pairs_and_says_so():
    from pipeline.quality.gate import MAX_COLUMN_PAIRS, _quality_report, column_pairs

    k = 30  # 435 pairs
    schema = Schema(label="is_fraud", features=[Feature(f"x{i}", "numerical", "float64") for i in range(k)])
    pairs, total = column_pairs(schema)
    assert total == 435 and len(pairs) == MAX_COLUMN_PAIRS == len(set(pairs))
    assert column_pairs(schema) == (pairs, total)  # the same pairs every time: pool and reference alike
    rng = np.random.default_rng(0)
    seed, like, shuffled = _wide(rng, 300, k), _wide(rng, 300, k), _wide(rng, 300, k, shuffle=True)
    report = _quality_report(seed, like, schema)
    assert report["quality_error"] is None
    assert (report["column_pairs_scored"], report["column_pairs_total"]) == (MAX_COLUMN_PAIRS, 435)
    assert len(report["column_shape_scores"]) == k  # every column's shape still counts
    assert report["quality_score"] == pytest.approx((report["column_shapes"] + report["column_pair_trends"]) / 2)
    # the sampled pairs still see broken correlations
    broken = _quality_report(seed, shuffled, schema)
    assert broken["column_pair_trends"] < report["column_pair_trends"] - 0.05
    # against every pair (SDMetrics' own report) the sample's estimate is close
    full = _quality_report(seed, like, schema, max_pairs=total)
    assert "column_pairs_scored" not in full
    assert abs(full["column_pair_trends"] - report["column_pair_trends"]) < 0.02
