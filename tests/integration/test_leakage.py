"""Leakage guards: a canary planted only in the test rows never reaches a generator, a pool or a
detector's training set; generators see only training frauds; validation/test hold no synthetic rows.
Each test asks for the fixtures it needs (prepared, fitted), so any one of them runs alone or in any order."""

import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline.config.params import validate
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.experiment import scoring
from pipeline.generators.base import Generator
from pipeline.stages import evaluate, fit, prepare, sample, train
from tests.helpers import base_params, csv_table, tabular_frame

pytestmark = pytest.mark.slow

CANARY_NUM = 987654.321
CANARY_CAT = "CANARY-ONLY-IN-TEST"


def _has_canary(df: pd.DataFrame) -> bool:
    num = df.select_dtypes("number")
    near = np.isclose(num.to_numpy(dtype=float), CANARY_NUM, rtol=0, atol=1e-3).any() if not num.empty else False
    cat = df.select_dtypes(exclude="number").astype(str).eq(CANARY_CAT).to_numpy().any()
    return bool(near or cat)


@pytest.fixture(scope="module")
def leak_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("leak")
    (root / "data" / "raw").mkdir(parents=True)
    df = tabular_frame(6000, fraud_rate=0.06, seed=5)
    last = df["Time"] >= df["Time"].quantile(0.9)  # only the latest rows: they fall in the test split
    df.loc[last, "amount"] = CANARY_NUM
    df.loc[last & (df.index % 2 == 0), "channel"] = CANARY_CAT
    df.to_csv(root / "data/raw/t.csv", index=False)
    p = base_params()
    p["evaluate"]["segments"] = ["channel"]  # a feature column of the CSV table
    p["data"].update(csv_table())
    p["split"].update({"train": 0.6, "gap": 0.0, "valid": 0.2, "test": 0.2})
    p["generators"] = {
        "gaussian_copula": {},
        "smote": {},
        "random_oversample": {},
        "ctgan": {"epochs": 2, "batch_size": 100, "verbose": False},
        "tvae": {"epochs": 2, "batch_size": 100, "verbose": False},
    }
    p["augment"]["shares"] = [0.0, 0.5]
    params = validate(p)
    prepare.run(params, Paths.at(root))
    return root, params


@pytest.fixture(scope="module")
def fitted(leak_project):
    """The generators fitted and sampled on the prepared project, with what each generator's fit was given."""
    root, params = leak_project
    paths = Paths.at(root)
    seen = {}
    real_fit = Generator.fit

    def spy(self, seed_set, schema, train=None, seed=0, target=None):
        seen[self.name] = (seed_set.copy(), None if train is None else train.copy(), self.family)
        return real_fit(self, seed_set, schema, train=train, seed=seed, target=target)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Generator, "fit", spy)
        for g in params["generators"]:
            fit.run(params, paths, g, 0)
            sample.run(params, paths, g, 0)
    return root, params, seen


def test_canary_only_in_test_split(leak_project):
    root, params = leak_project
    paths = Paths.at(root)
    assert _has_canary(pd.read_parquet(paths.split("test")))
    assert not _has_canary(pd.read_parquet(paths.split("train")))
    assert not _has_canary(pd.read_parquet(paths.split("valid")))


def test_generators_see_only_training_frauds_and_pools_hold_no_canary(fitted):
    root, params, seen = fitted
    paths = Paths.at(root)
    train_split = pd.read_parquet(paths.split("train"))
    assert set(seen) == set(params["generators"])
    for g in params["generators"]:
        seed_set, train_arg, family = seen[g]
        frauds = train_split[train_split["Class"] == 1]
        assert len(seed_set) == len(frauds)
        pd.testing.assert_frame_equal(
            seed_set.reset_index(drop=True)[["amount", "v1"]], frauds.reset_index(drop=True)[["amount", "v1"]]
        )
        if family == "oversampler":  # legitimate rows as neighbours: every one here (under data.legit_sample_rows)
            assert len(train_arg) == len(train_split) and not _has_canary(train_arg)
        else:  # the other generators see the seed set only
            assert train_arg is None
        assert not _has_canary(seed_set)
        assert not _has_canary(pd.read_parquet(paths.pool(g, 0)))


def test_detectors_never_train_on_canary_and_eval_rows_are_real(fitted, tmp_path, monkeypatch):
    root, params, _ = fitted
    root = shutil.copytree(root, tmp_path / "proj")  # train and evaluate write into a copy: other tests see the fits
    paths = Paths.at(root)
    calls = []
    real = train.train_detector

    def spy(X_train, y_train, X_valid, y_valid, *a, **k):
        calls.append((X_train.copy(), X_valid.copy()))
        return real(X_train, y_train, X_valid, y_valid, *a, **k)

    monkeypatch.setattr(train, "train_detector", spy)
    train.run(params, paths)
    valid = pd.read_parquet(paths.split("valid"))
    real_valid = Schema.load(paths.schema).to_model_frame(valid)
    assert calls
    n_train_real = len(pd.read_parquet(paths.split("train")))
    saw_synthetic = False
    for X_train, X_valid in calls:
        assert not _has_canary(X_train)
        saw_synthetic |= len(X_train) > n_train_real
        # early stopping sees exactly the real validation rows: no synthetic row, no replaced row
        pd.testing.assert_frame_equal(X_valid, real_valid)
    assert saw_synthetic  # the spy did see blended training sets

    scored = []
    real_predict = scoring.predict_scores

    def spy_predict(model, X):
        scored.append(X.copy())
        return real_predict(model, X)

    monkeypatch.setattr(scoring, "predict_scores", spy_predict)  # evaluate scores through pipeline.experiment.scoring
    evaluate.run(params, paths)
    test = Schema.load(paths.schema).to_model_frame(pd.read_parquet(paths.split("test")))
    # every detector is scored on exactly the real validation rows and the untouched real test rows
    assert all(x.equals(real_valid) or x.equals(test) for x in scored)
    assert any(x.equals(test) for x in scored) and _has_canary(test)
