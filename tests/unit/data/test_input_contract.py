"""The input contract (pipeline.data.contract): type decisions, cleaning and their one-line errors."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import DataError
from pipeline.core.schema import MISSING_TOKEN, Schema
from pipeline.data.contract import MAX_LEVELS, categorical_levels, clean_features, infer_schema, model_names


def _data(**kw):
    d = {"non_finite": "missing", "coerce_numeric": False, "csv": {"decimal": "."}}
    d.update(kw)
    return d


def test_types_decided_once():
    df = pd.DataFrame(
        {
            "f": [1.5, 2.0, np.nan],
            "i": [1, 2, 3],
            "b": [True, False, True],
            "c": ["a", "b", None],
            "txt_num": ["1", " 2.5", "3e2"],
            "cat": pd.Categorical(["1", "2", "1"]),
            "catnum": pd.Categorical([1, 2, 1]),
            "raw": [b"ab", b"cd", None],
            "code": [7.0, 12.0, np.nan],
        }
    )
    out, kinds, notes = clean_features(df, list(df.columns), _data(), categorical=["code"])
    assert kinds == {
        "f": "numerical",
        "i": "numerical",
        "b": "numerical",
        "c": "categorical",
        "txt_num": "numerical",
        "cat": "categorical",
        "code": "categorical",
        "catnum": "categorical",
        "raw": "categorical",
    }
    assert out["catnum"].tolist() == ["1", "2", "1"] and out["raw"].tolist() == ["ab", "cd", None]
    assert out["txt_num"].tolist() == [1.0, 2.5, 300.0]
    assert out["code"].tolist() == ["7", "12", None]  # whole-number codes print without '.0'
    assert notes == {"text_parsed_as_numbers": ["txt_num"]}
    pd.testing.assert_series_equal(out["i"], df["i"])  # untouched columns keep their dtype and values


def test_non_finite_become_missing_and_are_counted():
    df = pd.DataFrame({"x": [1.0, np.inf, -np.inf, 2.0, 1e39], "y": [1, 2, 3, 4, 5]})
    out, _, notes = clean_features(df, ["x", "y"], _data())
    assert out["x"].isna().tolist() == [False, True, True, False, True]
    assert notes["non_finite_to_missing"] == {"x": 3}
    assert df["x"].iloc[1] == np.inf  # the caller's table is not changed


def test_non_finite_rejected_on_request():
    df = pd.DataFrame({"x": [1.0, np.inf, 2.0]})
    with pytest.raises(
        DataError,
        match=r"column 'x' has 1 infinite or out-of-range value\(s\) \(e.g. inf\); "
        r"fix them in the file, or set data.non_finite: missing",
    ):
        clean_features(df, ["x"], _data(non_finite="reject"))


def test_stray_strings_rejected_with_examples_never_retyped():
    values = [str(v) for v in range(50)] + ["12,50", "-", "n/a"] + [str(v) for v in range(50)]
    df = pd.DataFrame({"amount": values})
    with pytest.raises(DataError) as e:
        clean_features(df, ["amount"], _data())
    msg = str(e.value)
    assert msg.startswith(
        "column 'amount' is numeric but 3 of its 103 values are not numbers (e.g. '12,50', '-', 'n/a')"
    )
    assert "data.coerce_numeric: true" in msg and "data.categorical_columns" in msg


def test_stray_strings_coerced_on_request():
    df = pd.DataFrame({"amount": ["1.5", "x", "2", " ", None] + ["3"] * 20})
    out, kinds, notes = clean_features(df, ["amount"], _data(coerce_numeric=True))
    assert kinds["amount"] == "numerical" and out["amount"].iloc[:5].isna().tolist() == [False, True, False, True, True]
    assert notes["coerced_to_missing"] == {"amount": {"count": 1, "examples": ["x"]}}


def test_decimal_commas_suggest_the_csv_option():
    df = pd.DataFrame({"amount": ["12,50", "3,1", "7,0"] * 10})
    with pytest.raises(DataError, match=r"column 'amount' holds numbers with decimal commas .* data.csv.decimal"):
        clean_features(df, ["amount"], _data())
    out, kinds, _ = clean_features(df, ["amount"], _data(csv={"decimal": ","}))
    assert kinds["amount"] == "numerical" and out["amount"].iloc[0] == 12.5


def test_mostly_text_column_stays_categorical():
    df = pd.DataFrame({"n": ["none", "1", "2 to 4", "more than 4"] * 5})
    _, kinds, _ = clean_features(df, ["n"], _data())
    assert kinds["n"] == "categorical"


def test_dates_are_not_features():
    df = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3)})
    with pytest.raises(DataError, match=r"column 'when' holds dates or durations.*data.time_column"):
        clean_features(df, ["when"], _data())


def test_reserved_missing_token_rejected():
    df = pd.DataFrame({"c": ["a", MISSING_TOKEN, "b"]})
    with pytest.raises(DataError, match="reserves for missing categories"):
        clean_features(df, ["c"], _data())


def test_too_many_levels_suggests_id_columns():
    values = pd.Series([f"m{i}" for i in range(MAX_LEVELS + 1)])
    with pytest.raises(DataError) as e:
        categorical_levels(values, "merchant", None)
    msg = str(e.value)
    assert msg.startswith(f"categorical column 'merchant' has {MAX_LEVELS + 1} distinct values in the training split")
    assert "data.id_columns" in msg and "data.max_categories" in msg and "data.drop_columns" in msg
    assert categorical_levels(values.iloc[:MAX_LEVELS], "merchant", None)[1] is None


def test_rare_levels_grouped_by_frequency():
    values = pd.Series(["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d", "e", "(other)"])
    cats, other = categorical_levels(values, "c", 4)
    assert other == "(other 2)"  # a user's own "(other)" value keeps its meaning
    assert cats == ["a", "b", "c", "(other 2)"]


def test_grouping_applies_to_every_table_through_the_schema():
    train = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["z"], "y": [0] * 8 + [1]})
    schema = infer_schema(train, "y", kinds={"c": "categorical"}, max_categories=2)
    f = schema.feature("c")
    assert f.categories == ["a", "(other)"] and f.other == "(other)"
    later = pd.DataFrame({"c": ["a", "b", "never-seen", None]})
    assert schema.conform(later)["c"].tolist() == ["a", "(other)", "(other)", None]
    assert schema.to_model_frame(later)["c"].astype(object).tolist()[:3] == ["a", "(other)", "(other)"]
    assert Schema.from_dict(schema.to_dict()) == schema  # recorded in schema.json


def test_model_names_only_for_names_xgboost_rejects():
    names = ["amount[eur]", "risk<score>", "plain", "amount(eur)", "ü x.y"]
    assert model_names(names) == {"amount[eur]": "amount(eur)_2", "risk<score>": "risk(lt)score>"}
    train = pd.DataFrame({"amount[eur]": [1.0, 2.0], "plain": [1, 2], "y": [0, 1]})
    schema = infer_schema(train, "y")
    assert schema.feature_names == ["amount[eur]", "plain"]
    assert schema.model_feature_names == ["amount(eur)", "plain"]
    assert "model_name" not in schema.to_dict()["features"][1]  # schema.json unchanged for ordinary names


def test_huge_unsigned_integers_are_not_wrapped():
    train = pd.DataFrame({"u": np.array([2**63 + 5, 3, 7], dtype=np.uint64), "y": [0, 1, 0]})
    schema = infer_schema(train, "y")
    assert schema.feature("u").dtype == "float64"  # int64 would wrap 2**63 + 5 to a negative number
    assert schema.conform(train)["u"].iloc[0] > 9e18
