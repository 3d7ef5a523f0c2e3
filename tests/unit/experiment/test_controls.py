"""Positive and negative controls of the comparison machinery: without them "no clear effect everywhere" could be
a bug. A pool of REAL frauds the detector never saw (an oracle: same source, kept out of every split) must help a
data-starved detector; legitimate-looking rows labelled fraud (poison) must hurt; random oversampling's copies of
the seed rows must not help. Each is trained and judged exactly as the pipeline does (`pipeline.experiment.cells`,
`pipeline.experiment.metrics.paired_with`)."""

import numpy as np
import pandas as pd
import pytest

from pipeline.data.contract import infer_schema
from pipeline.experiment.cells import cell_hits, fit_generator, unbits
from pipeline.experiment.metrics import VERDICT_HELPS, VERDICT_HURTS, paired_with
from pipeline.experiment.scarcity import draw_frauds

LABEL = "Class"
DET = {
    "n_estimators": 80,
    "max_depth": 3,
    "learning_rate": 0.2,
    "subsample": 0.9,
    "colsample_bytree": 1.0,
    "min_child_weight": 1.0,
    "early_stopping_rounds": 15,
    "n_jobs": 1,
}
EV = {"n_boot": 500, "seed": 0, "ci": 0.95, "min_effect": 0.03}
SEEDS = [0, 1, 2]


def frame(n: int, seed: int) -> pd.DataFrame:
    """Legitimate rows and frauds of three kinds, each with its own signature (a large amount, a high v1, a high
    count): a detector needs examples of each kind, so few known frauds starve it."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(int)
    kind = np.where(y == 1, rng.integers(1, 4, n), 0)
    return pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(3, 0.6, n) * np.where(kind == 1, 4.0, 1.0), 2),
            "v1": rng.normal(0, 1, n) + np.where(kind == 2, 2.5, 0.0),
            "count": rng.poisson(3, n) + np.where(kind == 3, 4, 0),
            "v2": rng.normal(0, 1, n),
            LABEL: y,
        }
    )


@pytest.fixture(scope="module")
def data():
    df = frame(16000, seed=11)
    train, valid, test = df.iloc[:8000], df.iloc[8000:11000], df.iloc[11000:]
    schema = infer_schema(train, LABEL)
    # the same source, never in any split: oracle frauds and legitimate rows for the poison pool
    extra = frame(12000, seed=99)
    return [x.reset_index(drop=True) for x in (train, valid, test)] + [schema, extra]


def _verdict(train, valid, test, schema, pool, share):
    fraud = test[LABEL].to_numpy() == 1
    shared = {
        "sub": train,
        "schema": schema,
        "X_valid": schema.to_model_frame(valid),
        "y_valid": valid[LABEL].to_numpy(),
        "X_test_fraud": schema.to_model_frame(test.loc[fraud]),
        "detector": DET,
        "budget": 0.01,
    }
    ref = np.vstack([unbits(cell_hits((None, s), pool=None, **shared)) for s in SEEDS])
    cfg = np.vstack([unbits(cell_hits((share, s), pool=pool, **shared)) for s in SEEDS])
    return paired_with(cfg, ref, EV)


def test_an_oracle_pool_of_unseen_real_frauds_helps_a_data_starved_detector(data):
    train, valid, test, schema, extra = data
    starved = draw_frauds(train, LABEL, 12, 0)  # 12 known frauds
    oracle = schema.conform(extra[extra[LABEL] == 1]).reset_index(drop=True)
    b = _verdict(starved, valid, test, schema, oracle, 0.9)  # 108 more real frauds
    assert b["verdict"] == VERDICT_HELPS, b


def test_a_poison_pool_of_legitimate_rows_labelled_fraud_hurts(data):
    train, valid, test, schema, extra = data
    # legitimate rows that share one trait with a kind of fraud (the largest amounts), labelled fraud: the detector
    # learns to flag such legitimate rows, the alert threshold rises and real frauds fall below it. (Random
    # legitimate rows labelled fraud barely move a rank-based recall: they raise every legitimate score alike.)
    legit = extra[extra[LABEL] == 0]
    poison = schema.conform(legit[legit["amount"] >= legit["amount"].quantile(0.9)]).reset_index(drop=True)
    b = _verdict(train, valid, test, schema, poison, 0.7)
    assert b["verdict"] == VERDICT_HURTS, b


def test_random_oversampling_copies_do_not_help(data):
    train, valid, test, schema, _ = data
    gen = fit_generator("random_oversample", {}, train, schema, seed=0)
    n_real = int(train[LABEL].sum())
    b = _verdict(train, valid, test, schema, gen.sample(3 * n_real, seed=0), 0.75)
    assert b["verdict"] != VERDICT_HELPS, b
    assert isinstance(b["detectable"], float) and b["detectable"] > 0
