import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import DataError
from pipeline.experiment.blend import blend, n_synthetic


@pytest.mark.parametrize(
    "n, s, expected", [(100, 0.0, 0), (100, 0.5, 100), (100, 0.25, 33), (100, 0.75, 300), (7, 0.5, 7), (0, 0.5, 0)]
)
def test_n_synthetic_definition(n, s, expected):
    assert n_synthetic(n, s) == expected


def _train():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(40, int), np.zeros(400, int)]
    return pd.DataFrame({"x": rng.normal(size=440), "y": y})


def test_blend_share_means_fraction_of_fraud_rows():
    train = _train()
    pool = pd.DataFrame({"x": np.arange(200.0)})
    out, synthetic = blend(train, pool, 0.5, seed=1, label="y")
    assert list(out.columns) == ["x", "y"]  # no marker column is ever added
    assert synthetic[(out["y"] == 1).to_numpy()].mean() == 0.5
    # real rows never change and come first
    pd.testing.assert_frame_equal(out[~synthetic].reset_index(drop=True), train)
    assert not synthetic[: len(train)].any() and synthetic[len(train) :].all()
    # drawn without replacement from the pool, seeded
    syn = out[synthetic]["x"]
    assert syn.is_unique and set(syn) <= set(pool["x"])
    again, _ = blend(train, pool, 0.5, seed=1, label="y")
    pd.testing.assert_frame_equal(out, again)
    assert not blend(train, pool, 0.5, seed=2, label="y")[0].equals(out)


def test_user_column_named_like_a_marker_is_untouched():
    train = _train().assign(is_synthetic=lambda d: d["y"] * 7)  # a user's predictive flag
    pool = pd.DataFrame({"x": np.arange(200.0), "is_synthetic": np.full(200, 7)})
    out, synthetic = blend(train, pool, 0.5, seed=1, label="y")
    pd.testing.assert_series_equal(out.loc[~synthetic, "is_synthetic"].reset_index(drop=True), train["is_synthetic"])
    assert (out.loc[synthetic, "is_synthetic"] == 7).all()


def test_share_zero_is_real_only():
    out, synthetic = blend(_train(), pd.DataFrame({"x": []}), 0.0, seed=0, label="y")
    assert synthetic.sum() == 0 and len(out) == 440 and list(out.columns) == ["x", "y"]


def test_pool_too_small_names_sizes():
    with pytest.raises(DataError, match=r"pool has 10 rows but share 0.75 needs 120"):
        blend(_train(), pd.DataFrame({"x": np.arange(10.0)}), 0.75, seed=0, label="y")
