"""Bring-your-own-data: label normalisation, column roles, and one clear error per bad input."""

import numpy as np
import pandas as pd
import pytest

from pipeline.data.sources import apply_roles, normalise_labels
from pipeline.errors import DataError


@pytest.mark.parametrize("values, expected", [
    ([0, 1, 1, 0], [0, 1, 1, 0]),
    ([True, False, True, False], [1, 0, 1, 0]),
    (["yes", "No", "YES", "no"], [1, 0, 1, 0]),
    (["Y", "N", "y", "n"], [1, 0, 1, 0]),
    (["fraud", "legit", "Fraud", "LEGIT"], [1, 0, 1, 0]),
    (["true", "false", "True", "FALSE"], [1, 0, 1, 0]),
    (["1", "0", "1", "0"], [1, 0, 1, 0]),
])
def test_labels_normalised(values, expected):
    assert normalise_labels(pd.Series(values), "y").tolist() == expected


@pytest.mark.parametrize("values", [[0, 1, 2], ["yes", "maybe"], [0.5, 1.0], ["fraud", None]])
def test_other_label_values_rejected(values):
    with pytest.raises(DataError, match="label column 'y'"):
        normalise_labels(pd.Series(values), "y")


def _table():
    return pd.DataFrame({"id": [1, 2, 3, 4], "t": [1.0, 2.0, 3.0, 4.0], "x": [1, 2, 3, 4], "c": list("abab"),
                         "y": ["no", "yes", "no", "no"]})


def test_roles_applied():
    src = apply_roles(_table(), label="y", time="t", ids=["id"], drop=["c"])
    assert list(src.table.columns) == ["id", "t", "x", "y"]
    assert src.table["y"].tolist() == [0, 1, 0, 0]


@pytest.mark.parametrize("kwargs, match", [
    ({"label": "missing"}, "label column 'missing' not found"),
    ({"label": "y", "ids": ["nope"]}, r"data.id_columns names \['nope'\]"),
    ({"label": "y", "drop": ["nope"]}, r"data.drop_columns names \['nope'\]"),
    ({"label": "y", "time": "nope"}, "time column 'nope' not found"),
])
def test_role_errors(kwargs, match):
    with pytest.raises(DataError, match=match):
        apply_roles(_table(), **kwargs)


def test_nan_or_inf_time_rejected():
    for bad in (np.nan, np.inf):
        df = _table()
        df.loc[2, "t"] = bad
        with pytest.raises(DataError, match="NaN/inf"):
            apply_roles(df, label="y", time="t")


def test_no_fraud_all_fraud_empty_duplicates():
    df = _table().assign(y="no")
    with pytest.raises(DataError, match="no fraud"):
        apply_roles(df, label="y")
    with pytest.raises(DataError, match="every one of the 4 rows"):
        apply_roles(df.assign(y="yes"), label="y")
    with pytest.raises(DataError, match="no rows"):
        apply_roles(_table().iloc[:0], label="y")
    dup = pd.concat([_table(), _table()[["x"]]], axis=1)
    with pytest.raises(DataError, match="duplicate column names"):
        apply_roles(dup, label="y")


@pytest.mark.parametrize("sep", [",", ";", "|", "\t"])
def test_separator_sniffed_even_with_separators_inside_quoted_values(sep):
    from pipeline.data.sources import sniff_separator

    df = pd.DataFrame({"a": [1.5, 2.5, 3.5], "note": ["x;y", "p|q", "u,v"], "y": [0, 1, 0]})
    assert sniff_separator(df.to_csv(sep=sep, index=False)) == sep


def test_label_in_another_role_named_precisely():
    with pytest.raises(DataError, match=r"label column 'y' is also listed in data.drop_columns"):
        apply_roles(_table(), label="y", drop=["y"])
    with pytest.raises(DataError, match=r"column 'c' is listed in both data.id_columns and data.categorical_columns"):
        apply_roles(_table(), label="y", ids=["c"], categorical=["c"])
