"""pipeline.schema: conform, model frames, the seed set, persistence."""

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.schema import Feature, Schema

SCHEMA = Schema(label="y", time="t", ids=["id"], features=[
    Feature("amount", "numerical", "float64"),
    Feature("n", "numerical", "int64"),
    Feature("channel", "categorical", "object", ["atm", "web"]),
])


def _frame():
    return pd.DataFrame({"id": [1, 2, 3], "t": [0, 1, 2], "amount": ["1.5", 2, None], "n": [1.0, 2.0, np.nan],
                         "channel": ["web", 7, None], "y": [0, 1, 1], "extra": ["x", "y", "z"]})


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
