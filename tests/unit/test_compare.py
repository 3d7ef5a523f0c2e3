import numpy as np
import pandas as pd

from pipeline.compare import DetectorScores, compare, metrics_dict, summary_markdown, summary_sentence

EV = {"fpr_budgets": [0.01, 0.05], "precision_floors": [0.5], "top_k": [20], "n_boot": 300, "ci": 0.95, "seed": 0}


def _scores(rng, y, strength):
    return np.clip(rng.normal(0, 1, len(y)) + strength * y, -5, 5)


def _detectors(y_valid, y_test, strengths, seeds=(0, 1, 2)):
    out = []
    for cid, (kind, gen, share, family, strength) in strengths.items():
        for s in seeds:
            rng = np.random.default_rng(hash((cid, s)) % 2**32)
            out.append(DetectorScores(cid, cid, kind, gen, share, s, family, 50, 0 if kind != "augmented" else 50,
                                      _scores(rng, y_valid, strength), _scores(rng, y_test, strength)))
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
    table = compare(_detectors(y_valid, y_test, configs), y_valid, y_test, EV)
    v = dict(zip(table["config"], table["verdict"]))
    assert v["baseline"] == "reference"
    assert v["good@0.5"] == "helps" and v["bad@0.5"] == "hurts"
    row = table.set_index("config").loc["good@0.5"]
    assert row["lift_lo"] > 0 and row["recall_lo"] <= row["recall"] <= row["recall_hi"]
    assert row["best_oversampler"] == "same@0.5"
    assert {"lift_vs_reweight", "verdict_vs_reweight", "pr_auc_mean", "pr_auc_std",
            "recall_at_fpr_1pct_per_seed"} <= set(table.columns)
    m = metrics_dict(table)
    assert m["best_config"] == "good@0.5" and m["test"]["best_augmented"]["verdict"] == "helps"
    assert "good at 50% synthetic share raised recall" in summary_sentence(table, "recall")
    md = summary_markdown(table, "recall", ci=0.9)
    assert "| good@0.5 |" in md and "90% CI" in md and "chosen on the validation rows" in md


def test_no_effect_sentence():
    y_valid, y_test = _y(3000, 150, 1), _y(3000, 300, 2)
    configs = {"baseline": ("baseline", None, 0.0, None, 2.0), "reweight": ("reweight", None, 0.0, None, 2.0),
               "same@0.5": ("augmented", "same", 0.5, "sdv", 2.0)}
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
