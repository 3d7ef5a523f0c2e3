import numpy as np
import pandas as pd
import pytest

from pipeline.blend import SYNTHETIC, blend, n_synthetic
from pipeline.errors import ConfigError, DataError


@pytest.mark.parametrize("n, s, expected", [(100, 0.0, 0), (100, 0.5, 100), (100, 0.25, 33), (100, 0.75, 300),
                                            (7, 0.5, 7), (0, 0.5, 0)])
def test_n_synthetic_definition(n, s, expected):
    assert n_synthetic(n, s) == expected


@pytest.mark.parametrize("s", [-0.1, 1.0, 1.5])
def test_share_outside_range_is_config_error(s):
    with pytest.raises(ConfigError, match="augment.shares"):
        n_synthetic(10, s)


def _train():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(40, int), np.zeros(400, int)]
    return pd.DataFrame({"x": rng.normal(size=440), "y": y})


def test_blend_share_means_fraction_of_fraud_rows():
    train = _train()
    pool = pd.DataFrame({"x": np.arange(200.0)})
    out = blend(train, pool, 0.5, seed=1, label="y")
    fraud = out[out["y"] == 1]
    assert fraud[SYNTHETIC].mean() == 0.5
    # legitimate rows never change
    pd.testing.assert_frame_equal(out[out[SYNTHETIC] == 0].drop(columns=SYNTHETIC).reset_index(drop=True), train)
    # drawn without replacement from the pool, seeded
    syn = out[out[SYNTHETIC] == 1]["x"]
    assert syn.is_unique and set(syn) <= set(pool["x"])
    again = blend(train, pool, 0.5, seed=1, label="y")
    pd.testing.assert_frame_equal(out, again)
    assert not blend(train, pool, 0.5, seed=2, label="y").equals(out)


def test_share_zero_is_real_only():
    out = blend(_train(), pd.DataFrame({"x": []}), 0.0, seed=0, label="y")
    assert out[SYNTHETIC].sum() == 0 and len(out) == 440


def test_pool_too_small_names_sizes():
    with pytest.raises(DataError, match=r"pool has 10 rows but share 0.75 needs 120"):
        blend(_train(), pd.DataFrame({"x": np.arange(10.0)}), 0.75, seed=0, label="y")
