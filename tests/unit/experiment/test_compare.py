import zlib

import numpy as np
import pandas as pd

from pipeline.experiment.challenger import best_config, challenger_config
from pipeline.experiment.compare import DetectorScores, compare, metrics_dict
from pipeline.reporting.markdown import lift_text, summary_markdown, summary_sentence

EV = {"fpr_budgets": [0.01, 0.05], "precision_floors": [0.5], "top_k": [20], "n_boot": 300, "ci": 0.95, "seed": 0}


def _scores(rng, y, strength):
    return np.clip(rng.normal(0, 1, len(y)) + strength * y, -5, 5)


def _detectors(y_valid, y_test, strengths, seeds=(0, 1, 2)):
    out = []
    for cid, (kind, gen, share, family, strength) in strengths.items():
        for s in seeds:
            rng = np.random.default_rng(zlib.crc32(f"{cid}/{s}".encode()))  # hash() is salted per process
            out.append(
                DetectorScores(
                    cid,
                    cid,
                    kind,
                    gen,
                    share,
                    s,
                    family,
                    50,
                    0 if kind != "augmented" else 50,
                    _scores(rng, y_valid, strength),
                    _scores(rng, y_test, strength),
                )
            )
    return out


def _y(n, k, seed):
    y = np.zeros(n, int)
    y[np.random.default_rng(seed).choice(n, k, replace=False)] = 1
    return y


def test_verdicts_follow_the_ci():
    y_valid, y_test = _y(3000, 150, 1), _y(3000, 300, 2)
    configs = {
        "baseline": ("baseline", None, 0.0, None, 2.0),
        "reweight": ("reweight", None, 0.0, None, 2.0),
        "good@0.5": ("augmented", "good", 0.5, "sdv", 3.5),
        "bad@0.5": ("augmented", "bad", 0.5, "sdv", 0.5),
        "same@0.5": ("augmented", "same", 0.5, "oversampler", 2.0),
    }
    gate = {g: {"passed": True, "checks": {"detection_auc_excess": {"passed": True}}} for g in ("good", "bad", "same")}
    table = compare(_detectors(y_valid, y_test, configs), y_valid, y_test, EV, gate)
    v = dict(zip(table["config"], table["verdict"]))
    assert v["baseline"] == "reference"
    assert v["good@0.5"] == "helps" and v["bad@0.5"] == "hurts"
    row = table.set_index("config").loc["good@0.5"]
    assert row["lift_lo"] > 0 and row["recall_lo"] <= row["recall"] <= row["recall_hi"]
    assert row["best_oversampler"] == "same@0.5"
    assert {
        "lift_vs_reweight",
        "verdict_vs_reweight",
        "pr_auc_mean",
        "pr_auc_std",
        "recall_at_fpr_1pct_per_seed",
    } <= set(table.columns)
    m = metrics_dict(table)
    assert m["best_config"] == "good@0.5" and m["test"]["best_augmented"]["verdict"] == "helps"
    assert "good at 50% synthetic share raised recall" in summary_sentence(table, "recall")
    md = summary_markdown(table, "recall", ci=0.9)
    assert "| good@0.5 |" in md and "90% CI" in md and "chosen on the validation rows" in md


def _gate(passed, failed=()):
    return {"passed": passed, "checks": {c: {"passed": c not in failed} for c in ("detection_auc_excess", "dcr_ratio")}}


def test_the_challenger_is_the_best_admissible_configuration_not_the_best_on_validation():
    """The best configuration on validation trained on a pool the gate flagged: it is not registered (the retrain
    guardrail would refuse it, and `make retrain` would crown nothing). The challenger is the best ADMISSIBLE one: a
    baseline, or an augmented configuration whose pool passed the gate and which beats real-only on validation
    beyond noise; the summary says why it was registered and why the top one was not."""
    y_valid, y_test = _y(3000, 150, 1), _y(3000, 300, 2)
    configs = {
        "baseline": ("baseline", None, 0.0, None, 2.0),
        "reweight": ("reweight", None, 0.0, None, 1.5),
        "flagged@0.5": ("augmented", "flagged", 0.5, "sdv", 4.5),  # best on validation, pool flagged
        "good@0.5": ("augmented", "good", 0.5, "sdv", 3.5),  # passed the gate, beats real-only beyond noise
        "flat@0.5": ("augmented", "flat", 0.5, "sdv", 2.05),  # passed the gate, no better than real-only
    }
    quality = {"flagged": _gate(False, ["detection_auc_excess"]), "good": _gate(True), "flat": _gate(True)}
    dets = _detectors(y_valid, y_test, configs)
    table = compare(dets, y_valid, y_test, EV, quality)
    rows = table.set_index("config")
    assert best_config(table)["config"] == "flagged@0.5"
    assert challenger_config(table)["config"] == "good@0.5"
    assert dict(zip(table["config"], table["admissible"])) == {
        "baseline": True,
        "reweight": True,
        "flagged@0.5": False,
        "good@0.5": True,
        "flat@0.5": False,
    }
    assert rows.loc["good@0.5", "valid_diff_lo"] > 0 and rows.loc["good@0.5", "valid_verdict_adjusted"] == "helps"
    assert "does not beat real-only on validation beyond noise" in rows.loc["flat@0.5", "admission"]
    m = metrics_dict(table)
    assert (m["best_config"], m["best_on_validation"]) == ("good@0.5", "flagged@0.5")  # publish registers best_config
    md = summary_markdown(table, "recall")
    assert (
        "Registered as the challenger: good@0.5 (best on validation among the admissible configurations; its "
        "pool passed the quality gate and it beats real-only on validation beyond noise"
    ) in md
    assert (
        "The best on validation, flagged@0.5, was not admissible: its pool was flagged by the quality gate "
        "(detection_auc_excess)."
    ) in md
    # with no augmented configuration admissible, a baseline is registered (the better of the two on validation)
    quality["good"] = _gate(False, ["dcr_ratio"])
    table = compare(dets, y_valid, y_test, EV, quality)
    assert challenger_config(table)["config"] == "baseline"
    assert (
        "Registered as the challenger: baseline (best on validation among the admissible configurations; the "
        "real-only baseline)." in summary_markdown(table, "recall")
    )
    # no gate report at all: a pool not shown to pass is not admissible
    assert challenger_config(compare(dets, y_valid, y_test, EV))["kind"] in ("baseline", "reweight")


def test_no_effect_sentence():
    y_valid, y_test = _y(3000, 150, 1), _y(3000, 300, 2)
    configs = {
        "baseline": ("baseline", None, 0.0, None, 2.0),
        "reweight": ("reweight", None, 0.0, None, 2.0),
        "same@0.5": ("augmented", "same", 0.5, "sdv", 2.0),
    }
    dets = _detectors(y_valid, y_test, configs)
    # make the augmented detector identical to the baseline
    base = {d.seed: d for d in dets if d.config == "baseline"}
    for d in dets:
        if d.config == "same@0.5":
            d.valid, d.test = base[d.seed].valid, base[d.seed].test
    table = compare(dets, y_valid, y_test, EV)
    assert table.set_index("config").loc["same@0.5", "verdict"] == "no clear effect"
    assert summary_sentence(table, "recall").startswith("No generator beat the real-only baseline beyond noise")


def test_compare_is_deterministic():
    y_valid, y_test = _y(2000, 100, 1), _y(2000, 100, 2)
    configs = {"baseline": ("baseline", None, 0.0, None, 2.0), "g@0.5": ("augmented", "g", 0.5, "sdv", 2.2)}
    a = compare(_detectors(y_valid, y_test, configs), y_valid, y_test, EV)
    b = compare(_detectors(y_valid, y_test, configs), y_valid, y_test, EV)
    pd.testing.assert_frame_equal(a, b)


def test_reweight_with_zero_recall_says_undefined_not_a_percentage():
    """The issue's case: reweight recall 0 vs a baseline of 0.08 on a few test frauds was shown as
    '-100% (CI -100%..-100%: no clear effect)' while the difference CI was -0.33..0.00."""
    row = pd.Series(
        {
            "verdict": "no clear effect",
            "lift": -1.0,
            "lift_lo": -1.0,
            "lift_hi": -1.0,
            "diff": -0.08,
            "diff_lo": -0.33,
            "diff_hi": 0.0,
        }
    )
    lift, ci = lift_text(row)
    assert lift == "-100%" and ci == "difference -0.33..+0.00"  # a -100% CI would say 'hurts'
    undefined = pd.Series(
        {
            "verdict": "helps",
            "lift": np.nan,
            "lift_lo": np.inf,
            "lift_hi": np.inf,
            "diff": 0.1,
            "diff_lo": 0.02,
            "diff_hi": 0.2,
        }
    )
    assert lift_text(undefined) == ("undefined (reference recall 0; difference +0.10)", "difference +0.02..+0.20")
    agreeing = pd.Series(
        {
            "verdict": "helps",
            "lift": 0.1,
            "lift_lo": 0.02,
            "lift_hi": 0.2,
            "diff": 0.05,
            "diff_lo": 0.01,
            "diff_hi": 0.1,
        }
    )
    assert lift_text(agreeing) == ("+10%", "+2%..+20%")


def test_summary_never_prints_a_lift_ci_against_its_verdict():
    y_valid, y_test = _y(2000, 60, 1), _y(2000, 12, 2)  # few test frauds: zero recalls in bootstrap draws
    dets = _detectors(
        y_valid,
        y_test,
        {
            "baseline": ("baseline", None, 0.0, None, 1.0),
            "reweight": ("reweight", None, 0.0, None, -3.0),
            "g@0.5": ("augmented", "g", 0.5, "sdv", 1.2),
        },
    )
    table = compare(dets, y_valid, y_test, EV)
    text = summary_markdown(table, "recall")
    assert "nan%" not in text and "inf%" not in text
    for _, r in table[table["kind"] != "baseline"].iterrows():
        _, ci = lift_text(r)
        if not ci.startswith("difference"):
            lo = float(ci.split("..")[0].rstrip("%")) / 100
            assert (lo > 0) == (r["verdict"] == "helps")


def test_segment_recall_on_a_hand_built_case():
    """4 test frauds in segment A, 2 in B; the baseline alerts A's first two and B's first one, the config all of A
    and none of B (one seed each)."""
    from pipeline.data.segments import Segment
    from pipeline.experiment.compare import headline_hits, segment_table

    y_valid = np.r_[np.zeros(100, int), 1]
    s_valid = np.r_[np.linspace(0, 0.5, 100), 0.9]  # legit scores up to 0.5: threshold at 1% FPR is 0.5
    y_test = np.array([1, 1, 1, 1, 1, 1, 0, 0])
    seg_a = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    base_scores = np.array([0.9, 0.9, 0.1, 0.1, 0.9, 0.1, 0.0, 0.0])
    cfg_scores = np.array([0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.0, 0.0])
    dets = [
        DetectorScores("baseline", "real-only baseline", "baseline", None, 0.0, 0, None, 6, 0, s_valid, base_scores),
        DetectorScores("g@0.5", "g @ 50%", "augmented", "g", 0.5, 0, "sdv", 6, 6, s_valid, cfg_scores),
    ]
    table = pd.DataFrame(
        [
            {"config": d.config, "title": d.title, "kind": d.kind, "generator": d.generator, "share": d.share}
            for d in dets
        ]
    )
    hits = headline_hits(dets, y_valid, y_test, 0.01)
    ev = {**EV, "min_segment_frauds": 3}
    seg = segment_table(table, hits, y_test, [Segment("s", "A", seg_a), Segment("s", "B", ~seg_a)], ev)
    got = seg.set_index(["config", "segment"])
    assert got.loc[("baseline", "A"), "recall"] == 0.5 and got.loc[("g@0.5", "A"), "recall"] == 1.0
    assert got.loc[("g@0.5", "A"), "diff"] == 0.5 and got.loc[("g@0.5", "A"), "n_frauds"] == 4
    assert got.loc[("baseline", "B"), "recall"] == 0.5 and got.loc[("g@0.5", "B"), "recall"] == 0.0
    assert got.loc[("g@0.5", "B"), "verdict"] == "too few to judge"  # 2 frauds < 3
    assert got.loc[("baseline", "A"), "verdict"] == "reference"


def test_no_segments_give_an_empty_segment_table_and_no_segment_metrics():
    """evaluate.segments: [] (a user's table with no segment column): no segment rows, metrics without segments -
    evaluate crashed on this before (found running the dask engine on a CSV)."""
    from pipeline.experiment.compare import headline_hits, segment_metrics, segment_table

    y_valid, s_valid = np.r_[np.zeros(50, int), 1], np.r_[np.linspace(0, 0.5, 50), 0.9]
    y_test = np.array([1, 1, 0, 0])
    dets = [
        DetectorScores(
            "baseline",
            "real-only baseline",
            "baseline",
            None,
            0.0,
            0,
            None,
            2,
            0,
            s_valid,
            np.array([0.9, 0.1, 0.0, 0.0]),
        )
    ]
    table = pd.DataFrame(
        [{"config": "baseline", "title": "real-only baseline", "kind": "baseline", "generator": None, "share": 0.0}]
    )
    seg = segment_table(table, headline_hits(dets, y_valid, y_test, 0.02), y_test, [], EV)
    assert seg.empty
    assert segment_metrics(seg, "baseline") == {}


def test_several_generator_fits_are_a_bootstrap_level():
    """Two fits of one generator that disagree (one helps a lot, one not at all): the CI drawn over fits is wider
    than the one with fits averaged, the table says so, and the summary explains it."""
    from pipeline.data.segments import Segment
    from pipeline.experiment.compare import headline_hits, segment_table
    from pipeline.reporting.markdown import fit_seed_sentence

    y_valid, y_test = _y(3000, 150, 1), _y(3000, 300, 2)
    dets = _detectors(
        y_valid,
        y_test,
        {"baseline": ("baseline", None, 0.0, None, 2.0), "reweight": ("reweight", None, 0.0, None, 2.0)},
    )
    for fit, strength in ((0, 2.0), (1, 3.5)):
        for d in _detectors(y_valid, y_test, {f"g@0.5/{fit}": ("augmented", "g", 0.5, "sdv", strength)}):
            d.config, d.title, d.fit_seed = "g@0.5", "g @ 50%", fit
            dets.append(d)
    hits = headline_hits(dets, y_valid, y_test, EV["fpr_budgets"][0])
    assert hits["g@0.5"].shape == (2, 3, 300) and hits["baseline"].shape == (3, 300)
    table = compare(dets, y_valid, y_test, EV, hits=hits).set_index("config")
    row = table.loc["g@0.5"]
    assert row["n_fits"] == 2 and row["fit_seeds"] == "0 1" and row["n_seeds"] == 3
    assert row["seeds"] == "0 1 2 0 1 2" and len(row["recall_at_fpr_1pct_per_seed"].split()) == 6
    assert row["diff_ci_width"] > row["diff_ci_width_without_fits"] > 0
    assert table.loc["baseline", "n_fits"] == 0
    text = fit_seed_sentence(table.reset_index())
    assert text.startswith("Generator randomness: each generator was fitted 2 times")
    assert "comes from which fit was drawn" in text
    assert "generator fits" in summary_markdown(table.reset_index(), "recall")
    seg = segment_table(
        table.reset_index(),
        hits,
        y_test,
        [Segment("s", "a", np.arange(len(y_test)) % 2 == 0)],
        {**EV, "min_segment_frauds": 5},
    )
    assert set(seg["config"]) == {"baseline", "reweight", "g@0.5"}


def test_merging_the_reports_of_several_fits():
    from pipeline.quality.reports import failed_checks, merge_fits

    a = {
        "quality_score": 0.8,
        "passed": True,
        "checks": {"q": {"passed": True, "value": 0.8, "threshold": 0.6}, "d": {"passed": True, "value": 0.9}},
    }
    b = {
        "quality_score": 0.6,
        "passed": False,
        "checks": {"q": {"passed": True, "value": 0.6, "threshold": 0.6}, "d": {"passed": False, "value": 0.99}},
    }
    assert merge_fits([a], [0]) is a
    m = merge_fits([a, b], [0, 1])
    assert abs(m["quality_score"] - 0.7) < 1e-12 and m["passed"] is False and failed_checks(m) == ["d"]
    assert abs(m["checks"]["d"]["value"] - 0.945) < 1e-12 and m["checks"]["q"]["threshold"] == 0.6
    assert m["fit_seeds"] == [0, 1] and m["per_fit"]["1"] is b


def test_targeted_configurations_are_compared_with_their_twins_per_segment():
    from pipeline.data.segments import Segment
    from pipeline.experiment.compare import headline_hits, targeting_table
    from pipeline.reporting.markdown import targeting_markdown

    y_valid, y_test = _y(3000, 150, 1), _y(3000, 300, 2)
    configs = {
        "baseline": ("baseline", None, 0.0, None, 2.0),
        "g@0.5": ("augmented", "g", 0.5, "sdv", 2.0),
        "g+target@0.5": ("augmented", "g+target", 0.5, "sdv", 3.5),
    }
    dets = _detectors(y_valid, y_test, configs)
    hits = headline_hits(dets, y_valid, y_test, EV["fpr_budgets"][0])
    table = compare(dets, y_valid, y_test, EV, hits=hits)
    segs = [Segment("s", "a", np.arange(3000) < 1500), Segment("s", "b", np.arange(3000) >= 2990)]
    tt = targeting_table(table, hits, y_test, segs, {**EV, "min_segment_frauds": 20})
    assert list(tt["config"]) == ["g+target@0.5"] * 2 and set(tt["untargeted"]) == {"g@0.5"}
    a = tt.set_index("segment_name").loc["s=a"]
    assert a["verdict"] == "helps" and a["diff"] == a["recall"] - a["untargeted_recall"]
    assert tt.set_index("segment_name").loc["s=b", "verdict"] == "too few to judge"
    md = targeting_markdown(tt, "recall", {"column": "s", "policy": "weights", "weights": {"a": 1.0}})
    assert md.startswith("Targeted vs untargeted pools (augment.target: s, weights a: 1)")
    assert "- **g+target@0.5** vs g@0.5: s=a (" in md


def test_leaderboard_one_row_per_pool_best_on_validation(tmp_path):
    from pipeline.experiment.compare import leaderboard
    from pipeline.reporting.markdown import leaderboard_markdown
    from pipeline.reporting.plots import plot_leaderboard

    y_valid, y_test = _y(3000, 150, 1), _y(3000, 300, 2)
    configs = {
        "baseline": ("baseline", None, 0.0, None, 2.0),
        "good@0.25": ("augmented", "good", 0.25, "sdv", 2.5),
        "good@0.5": ("augmented", "good", 0.5, "sdv", 3.5),
        "bad@0.5": ("augmented", "bad", 0.5, "sdv", 0.5),
        "meh@0.5": ("augmented", "meh", 0.5, "sdv", 2.0),
    }
    table = compare(_detectors(y_valid, y_test, configs), y_valid, y_test, EV)
    quality = {
        g: {
            "detection_auc_excess": x,
            "dcr_ratio": 1.0,
            "exact_copy_share": 0.0,
            "checks": {"detection_auc_excess": {"value": x, "threshold": 0.1, "passed": x <= 0.1}},
        }
        for g, x in (("good", 0.02), ("bad", 0.4), ("meh", 0.2))
    }
    board = leaderboard(table, quality).set_index("generator")
    assert list(board.index) == ["bad", "good", "meh"] and board.loc["good", "config"] == "good@0.5"
    assert board.loc["good", "verdict"] == "helps" and board.loc["bad", "gate"] == "flagged: detection_auc_excess"
    md = leaderboard_markdown(board.reset_index(), "recall")
    assert "| good | good@0.5 | 0.020 |" in md and "Spearman correlation" in md and ": -1.00 " in md
    plot_leaderboard(board.reset_index(), "recall", 0.1, tmp_path / "board.png")
    assert (tmp_path / "board.png").stat().st_size > 10_000


def test_five_verdicts_the_detectable_effect_and_the_reference_gain():
    from pipeline.reporting.markdown import decision_sentence

    y_valid, y_test = _y(3000, 150, 1), _y(3000, 300, 2)
    configs = {
        "baseline": ("baseline", None, 0.0, None, 2.0),
        "reweight": ("reweight", None, 0.0, None, 2.0),
        "same@0.5": ("augmented", "same", 0.5, "sdv", 2.0),
        "good@0.5": ("augmented", "good", 0.5, "sdv", 3.5),
    }
    dets = _detectors(y_valid, y_test, configs)
    base = {d.seed: d for d in dets if d.config == "baseline"}
    for d in dets:
        if d.config == "same@0.5":  # identical to real-only: no difference at all
            d.valid, d.test = base[d.seed].valid, base[d.seed].test
    table = compare(dets, y_valid, y_test, {**EV, "min_effect": 0.03}).set_index("config")
    assert table.loc["same@0.5", "verdict"] == "equivalent" and table.loc["good@0.5", "verdict"] == "helps"
    assert 0 < table.loc["good@0.5", "detectable"] < 0.2 and table.loc["same@0.5", "eq_hi"] < 0.03
    # an independent detector of the same strength: its CI straddles 0 and reaches past a small min_effect
    noisy = _detectors(
        y_valid, y_test, {"baseline": configs["baseline"], "other@0.5": ("augmented", "other", 0.5, "sdv", 2.0)}
    )
    tiny = compare(noisy, y_valid, y_test, {**EV, "min_effect": 0.005}).set_index("config")
    assert tiny.loc["other@0.5", "diff_lo"] < 0 < tiny.loc["other@0.5", "diff_hi"]
    assert tiny.loc["other@0.5", "verdict"] == "inconclusive"
    text = decision_sentence(table.reset_index(), 0.03, 0.23)
    assert text.startswith("Of 2 augmented configurations: 1 helps, 1 equivalent to real-only")
    assert "Detectable difference here (80% power): +-" in text
    assert "A gain the size of the published case (+23% relative recall:" in text
    assert ("it is there" in text) == bool((table["diff_lo"] >= 0.23 * table.loc["baseline", "recall"]).any())
    m = metrics_dict(table.reset_index())
    assert m["verdicts"]["equivalent"] == 1 and m["verdicts"]["inconclusive"] == 0 and "detectable_effect" in m["test"]


def test_the_gate_table_reports_too_few_held_out_frauds_as_its_own_status():
    from pipeline.reporting.markdown import gate_markdown

    checks = {
        "detection_auc_excess": {"value": None, "threshold": 0.1, "passed": None},
        "exact_copy_share": {"value": 0.0, "threshold": 0.05, "passed": True},
    }
    md = gate_markdown(
        {
            "g": {"checks": checks, "passed": True, "status": "not enough held-out frauds"},
            "h": {
                "checks": {**checks, "exact_copy_share": {"value": 0.5, "threshold": 0.05, "passed": False}},
                "passed": False,
            },
        }
    )
    assert "too few real held-out frauds for that reference" in md
    assert "**not enough held-out frauds**" in md and "| not enough held-out frauds |" in md
    assert "**flagged: exact_copy_share**" in md
