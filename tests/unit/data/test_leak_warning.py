"""Likely leaks: a single feature that separates the classes almost perfectly on the training split is
named by `prepare` (printed, profile.json) and in the evaluate summary (reporting.markdown.leak_sentence)."""

import json

import numpy as np
import pandas as pd

from pipeline.cli import main
from pipeline.data.contract import clean_features, infer_schema, likely_leaks
from pipeline.reporting.markdown import leak_sentence
from tests.helpers import base_params, csv_table, tabular_frame


def _agreeing(y, rng, share=0.98):
    """y with exactly 1 - share of the frauds and of the legitimate rows flipped."""
    out = y.copy()
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        flip = rng.choice(idx, int(round(len(idx) * (1 - share))), replace=False)
        out[flip] = 1 - cls
    return out


def _with_proxies(n=3000, seed=1):
    df = tabular_frame(n, seed=seed)
    rng = np.random.default_rng(seed)
    y = df["Class"].to_numpy()
    df["chargeback"] = _agreeing(y, rng)  # agrees with the label on 98% of rows (of frauds and of legit rows)
    df["status"] = np.where(_agreeing(y, rng) == 1, "disputed", "settled")
    df["inverse_score"] = -y * 10.0 + rng.normal(0, 0.1, n)  # lower values mean fraud
    df["flag"] = ((y == 1) & (rng.random(n) < 0.6) | (rng.random(n) < 0.02)).astype(int)  # predictive, no leak
    return df


def test_label_proxies_named_either_direction_and_for_categoricals():
    df = _with_proxies()
    features = [c for c in df.columns if c not in ("Class", "Time")]
    table, kinds, _ = clean_features(df, features, {"non_finite": "missing", "coerce_numeric": False, "csv": {}})
    schema = infer_schema(table, "Class", "Time", kinds=kinds)
    leaks = {
        d["column"]: d
        for d in likely_leaks(pd.concat([schema.conform(table), table[["Class"]]], axis=1), schema, "Class")
    }
    assert set(leaks) == {"chargeback", "status", "inverse_score"}
    assert leaks["inverse_score"]["score"] == "lower values mean fraud"
    assert leaks["status"]["score"] == "fraud-rate per level"
    assert 0.97 <= leaks["chargeback"]["auc"] < 0.99


def test_prepare_prints_and_records_the_leak_and_the_summary_names_it(project, capsys):
    df = _with_proxies()[["Time", "amount", "v1", "count", "channel", "flag", "chargeback", "Class"]]
    p = base_params()
    p["data"].update(csv_table())
    root = project(p)
    df.to_csv(root / "data/raw/t.csv", index=False)
    assert main(["--root", str(root), "prepare"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if "likely a leak" in ln]
    assert len(lines) == 1 and lines[0].startswith("prepare: WARNING column 'chargeback' on its own separates fraud")
    assert "data.drop_columns" in lines[0]
    profile = json.loads((root / "data/prepared/profile.json").read_text())
    assert [d["column"] for d in profile["input_contract"]["likely_leaks"]] == ["chargeback"]
    sentence = leak_sentence(profile)
    assert sentence.startswith("**Likely leak:** `chargeback` (AUC 0.9") and "label proxy" in sentence
    assert leak_sentence({"input_contract": {}}) == "" and leak_sentence({}) == ""
