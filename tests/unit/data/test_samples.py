"""Parts of a prepared split read without holding it (`pipeline.data.samples`): the seed set, a bounded seeded
sample of legitimate rows, and `data.legit_fraction`'s weighted sample of legitimate training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.core.files import write_parquet
from pipeline.data.samples import keep_rows, read_frauds, read_legit_sample, read_training, row_weights


def _split(tmp_path, n: int = 4000, parts: int | None = 1000):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": np.arange(n, dtype="float64"), "y": (rng.random(n) < 0.05).astype("int64")})
    path = tmp_path / "train.parquet"
    write_parquet(path, df, parts)
    return path, df


def test_keep_rows_keeps_every_fraud_and_a_seeded_share_of_legit_rows():
    labels = np.r_[np.zeros(20000, dtype=int), np.ones(300, dtype=int)]
    keep = keep_rows(labels, 0, 0.1, seed=3)
    assert keep[labels == 1].all()
    assert abs(keep[labels == 0].mean() - 0.1) < 0.01
    assert (keep == keep_rows(labels, 0, 0.1, seed=3)).all()
    assert (keep != keep_rows(labels, 0, 0.1, seed=4)).any()
    assert (keep != keep_rows(labels, 1, 0.1, seed=3)).any()  # each part draws its own rows
    assert keep_rows(labels, 0, 1.0, seed=3).all()
    assert list(row_weights(np.array([0, 1, 0]), 0.25)) == [4.0, 1.0, 4.0]


@pytest.mark.parametrize("parts", [None, 700])
def test_read_training_samples_legit_rows_with_weights(tmp_path, parts):
    path, df = _split(tmp_path, parts=parts)
    rows, weights = read_training(path, "y", 0.25, seed=1)
    assert rows["y"].sum() == df["y"].sum()
    legit = rows[rows["y"] == 0]
    assert 0.2 < len(legit) / (df["y"] == 0).sum() < 0.3
    assert set(legit["x"]) <= set(df["x"])
    assert (weights[rows["y"].to_numpy() == 0] == 4.0).all() and (weights[rows["y"].to_numpy() == 1] == 1.0).all()
    again, _ = read_training(path, "y", 0.25, seed=1)
    pd.testing.assert_frame_equal(rows, again)
    whole, none = read_training(path, "y", 1.0, seed=1)
    assert none is None and len(whole) == len(df)


def test_read_frauds_and_a_bounded_legit_sample(tmp_path):
    path, df = _split(tmp_path)
    frauds = read_frauds(path, "y")
    assert list(frauds["x"]) == list(df.loc[df["y"] == 1, "x"])
    sample = read_legit_sample(path, "y", 500, seed=2)
    assert len(sample) == 500 and (sample["y"] == 0).all()
    assert sample["x"].is_monotonic_increasing  # the split's row order
    assert sample.equals(read_legit_sample(path, "y", 500, seed=2))
    assert not sample.equals(read_legit_sample(path, "y", 500, seed=3))
    everything = read_legit_sample(path, "y", 10**6, seed=2)
    assert list(everything["x"]) == list(df.loc[df["y"] == 0, "x"])


def test_the_summary_says_when_detectors_trained_on_a_sample():
    from pipeline.reporting.markdown import legit_fraction_sentence, summary_markdown

    report = {"legit_fraction": 0.1, "train_rows_used": 1200, "train_rows": 10300}
    line = legit_fraction_sentence(report)
    assert "10.0% of the legitimate training rows (1200 of 10300 rows), each weighted 10" in line
    assert "full validation and test splits" in line
    assert legit_fraction_sentence({"legit_fraction": 1.0}) == "" and legit_fraction_sentence({}) == ""
    from pipeline.experiment.compare import compare
    from tests.unit.experiment.test_compare import EV, _detectors, _y

    y_valid, y_test = _y(1000, 60, 1), _y(1000, 80, 2)
    configs = {"baseline": ("baseline", None, 0.0, None, 2.0), "good@0.5": ("augmented", "good", 0.5, "sdv", 3.0)}
    table = compare(_detectors(y_valid, y_test, configs, seeds=(0,)), y_valid, y_test, {**EV, "n_boot": 100}, {})
    profile = {"source": "parquet", "split": "time-ordered", "test": {"rows": 10, "frauds": 2}}
    text = summary_markdown(table, "recall at 0.5% FPR", profile, train_report=report)
    assert line in text and text.index("Data:") < text.index(line)
