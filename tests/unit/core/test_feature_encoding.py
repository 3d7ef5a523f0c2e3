"""The shared numeric encoding: imputation and scaling from the reference, one-hot blocks and their inverse."""

import numpy as np
import pandas as pd

from pipeline.core.feature_encoding import Encoder, tokens
from pipeline.core.schema import MISSING_TOKEN


def _reference():
    return pd.DataFrame(
        {
            "amount": [10.0, 20.0, np.nan, 30.0],
            "flat": [5.0, 5.0, 5.0, 5.0],
            "channel": ["web", "pos", None, "web"],
        }
    )


def test_numbers_are_imputed_with_the_reference_median_and_scaled_by_its_spread():
    enc = Encoder(_reference(), ["amount", "flat"], ["channel"])
    out = enc.numeric(pd.DataFrame({"amount": [np.nan, 20.0], "flat": [5.0, 7.0]}))
    # filled reference: 10, 20, 20, 30 -> mean 20, population std sqrt(50)
    assert out["amount"].tolist() == [0.0, 0.0]
    assert enc.stds["flat"] == 1.0 and out["flat"].tolist() == [0.0, 2.0]  # a constant column keeps scale 1
    raw = Encoder(_reference(), ["amount"], [], standardize=False).numeric(pd.DataFrame({"amount": [7.0]}))
    assert raw["amount"].tolist() == [7.0]


def test_one_hot_and_decode_round_trip_with_missing_as_its_own_category():
    ref = _reference()
    enc = Encoder(ref, ["amount"], ["channel"])
    assert enc.categories["channel"] == sorted(["web", "pos", MISSING_TOKEN])
    matrix = enc.one_hot(ref)
    assert matrix.shape == (4, 1 + 3) and (matrix[:, 1:].sum(axis=1) == 1).all()
    back = enc.decode(matrix)
    assert back["channel"].tolist() == ["web", "pos", None, "web"]
    assert np.allclose(back["amount"], [10.0, 20.0, 20.0, 30.0])  # the missing amount comes back imputed


def test_a_value_outside_the_categories_encodes_as_zeros():
    enc = Encoder(_reference(), [], ["channel"], categories={"channel": ["pos", "web"]})
    matrix = enc.one_hot(pd.DataFrame({"channel": ["atm", "web"]}))
    assert matrix.tolist() == [[0.0, 0.0], [0.0, 1.0]]


def test_tokens_mark_missing_values():
    assert tokens(pd.Series(["a", None, np.nan])).tolist() == ["a", MISSING_TOKEN, MISSING_TOKEN]
