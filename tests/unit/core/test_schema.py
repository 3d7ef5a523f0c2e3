"""pipeline.core.schema: conform, model frames, the seed set, persistence."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import DataError
from pipeline.core.schema import Feature, Schema

SCHEMA = Schema(
    label="y",
    time="t",
    ids=["id"],
    features=[
        Feature("amount", "numerical", "float64"),
        Feature("n", "numerical", "int64"),
        Feature("channel", "categorical", "object", ["atm", "web"]),
    ],
)


def _frame():
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "t": [0, 1, 2],
            "amount": ["1.5", 2, None],
            "n": [1.0, 2.0, np.nan],
            "channel": ["web", 7, None],
            "y": [0, 1, 1],
            "extra": ["x", "y", "z"],
        }
    )


def test_conform_gives_schema_columns_and_dtypes():
    out = SCHEMA.conform(_frame())
    assert list(out.columns) == ["amount", "n", "channel"]
    assert out["amount"].dtype == "float64" and out["amount"].tolist()[:2] == [1.5, 2.0]
    assert str(out["n"].dtype) == "Int64"  # missing integers stay missing, never 0
    assert out["channel"].tolist() == ["web", "7", None]


def test_model_frame_has_fixed_categories_and_unseen_values_missing():
    X = SCHEMA.to_model_frame(_frame())
    assert list(X["channel"].cat.categories) == ["atm", "web"]
    assert X["channel"].isna().tolist() == [False, True, True]  # '7' was never seen in training
    assert X["n"].dtype == "float64"


def test_seed_set_is_the_fraud_rows_features_only():
    seeds = SCHEMA.seed_set(_frame())
    assert len(seeds) == 2 and list(seeds.columns) == SCHEMA.feature_names
    assert seeds.index.tolist() == [0, 1]


def test_missing_feature_column_is_a_data_error():
    with pytest.raises(DataError, match=r"lacks feature columns \['channel'\]"):
        SCHEMA.conform(_frame().drop(columns="channel"))


def test_save_load_round_trip(tmp_path):
    SCHEMA.save(tmp_path / "schema.json")
    assert Schema.load(tmp_path / "schema.json") == SCHEMA
    with pytest.raises(DataError, match="run the prepare stage"):
        Schema.load(tmp_path / "nope.json")


def test_model_frame_of_numbers_is_the_same_by_the_fast_and_the_parsing_path():
    """Columns already numeric are converted together; the same rows sent as text go through `conform`'s parsing:
    both give the same model frame (integers rounded half to even, missing kept, categories fixed)."""
    schema = Schema(
        label="y",
        features=[
            Feature("amount", "numerical", "float64"),
            Feature("n", "numerical", "int64"),
            Feature("k", "numerical", "int64"),
            Feature("f32", "numerical", "float32"),
            Feature("channel", "categorical", "object", ["atm", "web", "(other)"], other="(other)"),
        ],
    )
    rows = pd.DataFrame(
        {
            "amount": [1.5, -2.25, np.nan, 1e9],
            "n": [1.0, 2.5, np.nan, 3.5],
            "k": pd.array([1, None, 3, 4], dtype="Int64"),
            "f32": np.array([0.1, 0.2, np.nan, 4], dtype="float32"),
            "channel": ["web", "pos", None, " "],
        }
    )
    fast = schema.to_model_frame(rows)
    as_text = rows.astype({"amount": object, "n": object, "k": object, "f32": object})
    slow = schema.to_model_frame(as_text)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["n"].tolist()[:2] == [1.0, 2.0] and np.isnan(fast["n"].iloc[2])
    assert fast["channel"].tolist()[:2] == ["web", "(other)"] and fast["channel"].isna().tolist()[2:] == [True, True]
    # a one-row request, as served
    pd.testing.assert_frame_equal(schema.to_model_frame(rows.iloc[[1]]), slow.iloc[[1]])
