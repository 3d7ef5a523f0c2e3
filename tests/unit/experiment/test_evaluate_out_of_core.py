"""pipeline.experiment.out_of_core: score summaries computed part by part on an in-process Dask cluster give every
metric of the full scores (real XGBoost detectors and the whole evaluate stage: tests/integration/test_compute.py)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from pipeline.experiment import out_of_core
from pipeline.experiment.metrics import LabelledScores, split_metrics, top_needed

BUDGETS, FLOORS, TOP_K = [0.001, 0.01, 0.05, 0.2], [0.2, 0.5, 0.9], [1, 7, 50]


class RoundedScorer:
    """A detector stand-in: a logistic score of one column, rounded to `digits` (blocks of tied scores)."""

    def __init__(self, weight: float, digits: int):
        self.weight, self.digits = weight, digits

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.round(1 / (1 + np.exp(-self.weight * X["x"].to_numpy())), self.digits)
        return np.c_[1 - p, p]


class OneColumn:
    """A schema stand-in: the label column and the model frame."""

    label = "is_fraud"

    def to_model_frame(self, part: pd.DataFrame) -> pd.DataFrame:
        return part[["x"]]


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        yield c


def test_summaries_of_parts_give_every_metric_of_the_full_scores(client, monkeypatch):
    """Seven parts of uneven size, scores in blocks of ties that straddle the parts, the top-k cut and the
    thresholds: thresholds, recall, test FPR, recall at precision and precision at top k identical to the full
    scores', the areas within 1e-12; fraud scores in row order."""
    import dask
    import dask.dataframe as dd

    monkeypatch.setattr(out_of_core, "_models_of", lambda blobs: [pickle.loads(b) for b in blobs])
    rng = np.random.default_rng(4)
    models = [RoundedScorer(1.0, 2), RoundedScorer(-0.7, 3), RoundedScorer(2.0, 1)]
    blobs = [pickle.dumps(m) for m in models]
    frames = {}
    for split, n in (("valid", 6000), ("test", 9000)):
        y = (rng.random(n) < 0.04).astype(int)
        frames[split] = pd.DataFrame({"x": rng.normal(size=n) + 0.8 * y, "is_fraud": y})
    bounds = [0, 400, 2600, 2700, 5100, 7000, 8800, 9000]
    test_parts = [frames["test"].iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    ddf_test = dd.from_delayed([dask.delayed(p) for p in test_parts], meta=frames["test"].iloc[:0])
    ddf_valid = dd.from_pandas(frames["valid"], npartitions=5, sort=False)
    n_legit = int((frames["valid"]["is_fraud"] == 0).sum())
    valid = out_of_core.summarize_split(
        ddf_valid, blobs, OneColumn(), top=lambda n: max(top_needed(n, b) for b in BUDGETS)
    )
    assert valid[0].n_legit == n_legit
    thresholds = [[v.threshold(b) for b in BUDGETS] for v in valid]
    test = out_of_core.summarize_split(ddf_test, blobs, OneColumn(), top=lambda n: max(TOP_K), thresholds=thresholds)
    for model, v, t in zip(models, valid, test):
        full = {s: LabelledScores(f["is_fraud"], model.predict_proba(f)[:, 1]) for s, f in frames.items()}
        assert np.array_equal(t.fraud, full["test"].fraud)  # every fraud score, in row order
        expected = split_metrics(full["valid"], full["test"], BUDGETS, FLOORS, TOP_K)
        got = split_metrics(v, t, BUDGETS, FLOORS, TOP_K)
        for name in expected:
            if name in ("pr_auc", "roc_auc"):
                assert got[name] == pytest.approx(expected[name], rel=1e-12), name
            else:
                assert got[name] == expected[name], name
        assert len(np.unique(full["test"].s)) < 0.1 * len(full["test"].s)  # the scores are heavily tied


def test_detectors_in_several_passes_give_the_same_summaries(client, monkeypatch):
    """Scores over `max_bytes` on the workers: the detectors are summarized a group at a time, with the same result."""
    import dask.dataframe as dd

    monkeypatch.setattr(out_of_core, "_models_of", lambda blobs: [pickle.loads(b) for b in blobs])
    rng = np.random.default_rng(8)
    y = (rng.random(5000) < 0.05).astype(int)
    ddf = dd.from_pandas(pd.DataFrame({"x": rng.normal(size=5000) + y, "is_fraud": y}), npartitions=4, sort=False)
    blobs = [pickle.dumps(RoundedScorer(w, 2)) for w in (1.0, -0.5, 0.3)]
    groups, one_pass = [], out_of_core._summarize
    monkeypatch.setattr(out_of_core, "_summarize", lambda ddf, b, *a: groups.append(len(b)) or one_pass(ddf, b, *a))
    once = out_of_core.summarize_split(ddf, blobs, OneColumn(), top=lambda n: 60, thresholds=[[0.6], [0.5], [0.55]])
    passes = out_of_core.summarize_split(
        ddf, blobs, OneColumn(), top=lambda n: 60, thresholds=[[0.6], [0.5], [0.55]], max_bytes=8 * 5000
    )
    assert groups == [3, 1, 1, 1]  # 8 bytes x 5,000 rows: one detector per pass
    for a, b in zip(once, passes):
        assert a.n_legit == b.n_legit and a.at == b.at
        for field in ("fraud", "fraud_rows", "top", "top_rows", "legit_ge", "legit_gt"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), field
