"""Bring-your-own-data: label normalisation, column roles, and one clear error per bad input."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import DataError
from pipeline.data.sources import apply_roles, normalise_labels, read_table


@pytest.mark.parametrize(
    "values, expected",
    [
        ([0, 1, 1, 0], [0, 1, 1, 0]),
        ([True, False, True, False], [1, 0, 1, 0]),
        (["yes", "No", "YES", "no"], [1, 0, 1, 0]),
        (["Y", "N", "y", "n"], [1, 0, 1, 0]),
        (["fraud", "legit", "Fraud", "LEGIT"], [1, 0, 1, 0]),
        (["true", "false", "True", "FALSE"], [1, 0, 1, 0]),
        (["1", "0", "1", "0"], [1, 0, 1, 0]),
    ],
)
def test_labels_normalised(values, expected):
    assert normalise_labels(pd.Series(values), "y").tolist() == expected


@pytest.mark.parametrize("values", [[0, 1, 2], ["yes", "maybe"], [0.5, 1.0], ["fraud", None]])
def test_other_label_values_rejected(values):
    with pytest.raises(DataError, match="label column 'y'"):
        normalise_labels(pd.Series(values), "y")


def _table():
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "t": [1.0, 2.0, 3.0, 4.0],
            "x": [1, 2, 3, 4],
            "c": list("abab"),
            "y": ["no", "yes", "no", "no"],
        }
    )


def test_roles_applied():
    src = apply_roles(_table(), label="y", time="t", ids=["id"], drop=["c"])
    assert list(src.table.columns) == ["id", "t", "x", "y"]
    assert src.table["y"].tolist() == [0, 1, 0, 0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"label": "missing"}, "label column 'missing' not found"),
        ({"label": "y", "ids": ["nope"]}, r"data.id_columns names \['nope'\]"),
        ({"label": "y", "drop": ["nope"]}, r"data.drop_columns names \['nope'\]"),
        ({"label": "y", "time": "nope"}, "time column 'nope' not found"),
    ],
)
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


# -- class 6 of issue 20: inputs that used to be misdiagnosed -------------------------------------------------
def _timed(values):
    return pd.DataFrame({"y": [0, 1] * (len(values) // 2), "t": values, "f": range(len(values))})


def test_iso_times_with_z_or_offset_read_as_utc():
    src = apply_roles(_timed(["2024-01-05T10:00:00Z", "2024-01-05T12:00:00+01:00"]), label="y", time="t")
    assert src.table["t"].tolist() == [pd.Timestamp("2024-01-05 10:00"), pd.Timestamp("2024-01-05 11:00")]


def test_day_first_dates_decided_from_the_column_or_by_data_dayfirst():
    src = apply_roles(_timed(["13/01/2024", "05/02/2024"]), label="y", time="t")
    assert src.table["t"].tolist() == [pd.Timestamp("2024-01-13"), pd.Timestamp("2024-02-05")]
    src = apply_roles(_timed(["01/13/2024 10:30", "02/05/2024 08:00"]), label="y", time="t")
    assert src.table["t"].tolist() == [pd.Timestamp("2024-01-13 10:30"), pd.Timestamp("2024-02-05 08:00")]
    with pytest.raises(DataError) as e:
        apply_roles(_timed(["05/01/2024", "06/02/2024"]), label="y", time="t")
    assert str(e.value) == (
        "time column 't' has dates such as '05/01/2024', '06/02/2024' that read as day/month or "
        "month/day; set data.dayfirst: true (dd/mm/yyyy) or false (mm/dd/yyyy) in params.yaml"
    )
    src = apply_roles(_timed(["05/01/2024", "06/02/2024"]), label="y", time="t", dayfirst=True)
    assert src.table["t"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-06")]
    with pytest.raises(DataError, match="contradict data.dayfirst: false; set data.dayfirst to true or null"):
        apply_roles(_timed(["13/01/2024", "05/02/2024"]), label="y", time="t", dayfirst=False)


def test_bad_time_values_shown_with_examples():
    with pytest.raises(DataError) as e:
        apply_roles(_timed(["2024-01-05", "soon"]), label="y", time="t")
    assert str(e.value) == (
        "time column 't' has 1 value(s) that are neither numbers nor dates (e.g. 'soon'); fix "
        "them or set data.time_column: null"
    )


def test_time_column_stored_as_the_parquet_index_is_found(tmp_path):
    df = _timed(list(pd.date_range("2024-01-01", periods=4, freq="h"))).set_index("t")
    df.to_parquet(tmp_path / "t.parquet")
    table = read_table(tmp_path / "t.parquet", "parquet")
    assert list(table.columns) == ["t", "y", "f"]
    assert apply_roles(table, label="y", time="t").time == "t"


def test_names_with_spaces_shown_as_written():
    df = pd.DataFrame({" Class": [0, 1] * 3, "x ": range(6)})
    with pytest.raises(DataError) as e:
        apply_roles(df, label="Class")
    assert str(e.value) == (
        "label column 'Class' not found (the table has ' Class', which differs by spaces or case: "
        "set data.label to ' Class' or fix the header); set data.label to one of: ' Class', 'x '"
    )
    with pytest.raises(DataError, match=r"data.id_columns names \['x'\], which the table lacks \(the table has 'x '"):
        apply_roles(df, label=" Class", ids=["x"])


@pytest.mark.parametrize(
    "name, head",
    [
        ("t.xlsx", b"PK\x03\x04rest"),
        ("t.csv", b"PK\x03\x04rest"),
        ("t.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest"),
        ("t.xls", b"a,b\n"),
    ],
)
def test_excel_workbook_named_as_one(tmp_path, name, head):
    (tmp_path / name).write_bytes(head)
    with pytest.raises(DataError) as e:
        read_table(tmp_path / name, "csv", {})
    msg = str(e.value)
    assert ("is an Excel workbook" in msg or "is a ZIP archive (an Excel .xlsx workbook" in msg) and "UTF-8" not in msg
    assert msg.endswith("export the sheet as CSV (or Parquet) and point data.path at that file")
