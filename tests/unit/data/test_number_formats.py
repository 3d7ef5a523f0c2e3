"""Number formats (pipeline.data.numbers, through the CSV reader and the input contract): a magnitude
never changes silently. Each value is read in ONE format decided from the whole column, or the column
stops with one line naming it, two examples and the setting that decides it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.errors import DataError
from pipeline.data.contract import clean_features
from pipeline.data.numbers import read_numbers
from pipeline.data.sources import read_table


def _data(**csv):
    return {"non_finite": "missing", "coerce_numeric": False, "csv": {"decimal": None, "thousands": None, **csv}}


def _read(values, **csv):
    return read_numbers(pd.Series(values), "amount", csv.get("decimal"), csv.get("thousands"))[0].tolist()


@pytest.mark.parametrize(
    "values, expected",
    [
        (["1,234.50", "999.99", "12"], [1234.5, 999.99, 12]),
        (["1.234,56", "12,5"], [1234.56, 12.5]),
        (["€19.15", "€ 3", "€1,234.00"], [19.15, 3, 1234]),
        (["19,15 €", "3,5 €"], [19.15, 3.5]),
        (["EUR 19.15", "3.20EUR"], [19.15, 3.2]),
        (["CHF 12.50", "CHF 3.10"], [12.5, 3.1]),
        (["1.25%", "3%", "-0.5%"], [1.25, 3, -0.5]),  # percent kept as written
        (["(19.18)", "20.5", "(€4.00)"], [-19.18, 20.5, -4.0]),
        (["12.50-", "3.25", "-1.5", "+12.0", "\u22122.5"], [-12.5, 3.25, -1.5, 12, -2.5]),
        (["1 234,56", "12,5", "1\u00a0234,5", "1\u202f000,25"], [1234.56, 12.5, 1234.5, 1000.25]),
        (["1'234.50", "3.2", "1\u2019000.5"], [1234.5, 3.2, 1000.5]),
        (["1.234.567", "5", "12.000"], [1234567, 5, 12000]),  # two marks prove grouping
        (["0,125", "1,250"], [0.125, 1.25]),  # a lone leading 0 cannot be a thousands group
        (["1234.567", "1.234"], [1234.567, 1.234]),  # four digits before the mark: no grouping
        (["1,979", "2,5"], [1.979, 2.5]),  # another row decides
        (["1,979", "1.5"], [1979, 1.5]),  # the other mark is the decimal mark
        (["R$ 1.234,56", "R$ 2,5"], [1234.56, 2.5]),
        (["12,50 zł", "3 zł"], [12.5, 3.0]),
        (["1.234,5-", "3,25"], [-1234.5, 3.25]),
        (["1 234 567", "12"], [1234567, 12]),
        (["$1,234.00", "$(12.00)"], [1234.0, -12.0]),
        (["1e5", "2.5E-3", "nan", "inf"], [1e5, 2.5e-3, float("nan"), float("inf")]),
    ],
)
def test_formats_read_from_the_whole_column(values, expected):
    assert _read(values) == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize(
    "values, csv, expected",
    [
        (["1,979", "2,500"], {"thousands": ","}, [1979, 2500]),
        (["1,979", "2,500"], {"thousands": "."}, [1.979, 2.5]),
        (["1,979", "2,500"], {"decimal": ",", "thousands": "."}, [1.979, 2.5]),
        (["1.234", "12.345"], {"thousands": "."}, [1234, 12345]),
        (["1.234", "12.345"], {"thousands": ","}, [1.234, 12.345]),
        (["1.234", "12.345"], {"decimal": ","}, [1234, 12345]),  # '.' cannot be the decimal mark
    ],
)
def test_settings_decide_an_ambiguous_column(values, csv, expected):
    assert _read(values, **csv) == pytest.approx(expected)


@pytest.mark.parametrize(
    "values, csv, message",
    [
        (
            ["1.234", "12.345", "999"],
            {},
            "column 'amount': values such as '1.234', '12.345' could use '.' as a decimal mark ('1.234' = 1.234) or to group "
            "thousands ('1.234' = 1234), and no value decides it; set data.csv.thousands: '.' if it groups thousands, or "
            "data.csv.thousands: ',' if '.' is the decimal mark here",
        ),
        (
            ["1,979", "2,500"],
            {"decimal": ","},
            "could use ',' as a decimal mark ('1,979' = 1.979) or to group thousands",
        ),
        (["EUR 3", "USD 4"], {}, "column 'amount' mixes currencies (EUR, USD; e.g. 'EUR 3', 'USD 4')"),
        (["1.25%", "0.5"], {}, "column 'amount' mixes percentages and plain numbers (e.g. '1.25%', '0.5')"),
        (
            ["1.5", "1.234.567"],
            {},
            "column 'amount' uses '.' both as a decimal mark (e.g. '1.5') and to group thousands",
        ),
    ],
)
def test_undecidable_columns_stop_with_one_line(values, csv, message):
    with pytest.raises(DataError) as e:
        _read(values, **csv)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_values_against_the_column_format_are_strays_with_examples():
    values = [f"{v}.50" for v in range(60)] + ["12,50"]
    df = pd.DataFrame({"amount": values})
    with pytest.raises(
        DataError,
        match=r"column 'amount' is numeric but 1 of its 61 values are not numbers "
        r"\(e.g. '12,50'\)",
    ):
        clean_features(df, ["amount"], _data())
    out, _, notes = clean_features(df, ["amount"], {**_data(), "coerce_numeric": True})
    assert out["amount"].iloc[3] == 3.5 and np.isnan(out["amount"].iloc[-1])


def test_format_recorded_in_the_notes():
    df = pd.DataFrame({"amount": ["€1,234.50", "€(3.00)", "€12.00"], "rate": ["1.25%", "2%", "0.5%"]})
    out, kinds, notes = clean_features(df, ["amount", "rate"], _data())
    assert out["amount"].tolist() == [1234.5, -3.0, 12.0] and out["rate"].tolist() == [1.25, 2.0, 0.5]
    assert notes["number_formats"]["amount"] == {
        "decimal": ".",
        "grouping": ",",
        "currency": "EUR",
        "negatives": "(parentheses)",
    }
    assert notes["number_formats"]["rate"]["unit"].startswith("percent")


@pytest.mark.parametrize(
    "text, csv, expected",
    [
        ("amount;Class\n1.234;0\n12.345;1\n", {"thousands": "."}, [1234.0, 12345.0]),
        ("amount;Class\n1,979;0\n2,5;1\n", {}, [1.979, 2.5]),
        ('amount,Class\n"1,979",0\n"2,500",1\n', {"thousands": ","}, [1979.0, 2500.0]),
        ("amount,Class\n1.5,0\n2.25,1\n", {}, [1.5, 2.25]),
    ],
)
def test_csv_reader_never_converts_a_magnitude_itself(tmp_path, text, csv, expected):
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    df = read_table(
        tmp_path / "t.csv", "csv", {"sep": None, "encoding": None, "decimal": None, "thousands": None, **csv}
    )
    out, kinds, _ = clean_features(df, ["amount"], _data(**csv))
    assert kinds["amount"] == "numerical" and out["amount"].tolist() == pytest.approx(expected)
    assert df["Class"].dtype.kind == "i"  # plain columns typed as pandas would


def test_csv_reader_leaves_ambiguous_dotted_numbers_to_the_contract(tmp_path):
    (tmp_path / "t.csv").write_text("amount,Class\n1.234,0\n12.345,1\n", encoding="utf-8")
    df = read_table(tmp_path / "t.csv", "csv", {"decimal": None, "thousands": None})
    assert df["amount"].tolist() == ["1.234", "12.345"]
    with pytest.raises(DataError, match="set data.csv.thousands"):
        clean_features(df, ["amount"], _data())


# -- property: formats real exports use, every separator/decimal/thousands combination ----------------------
_SYMBOL = {
    "none": ("", ""),
    "prefix": ("€", ""),
    "prefix_space": ("EUR ", ""),
    "suffix": ("", " €"),
    "suffix_code": ("", "USD"),
    "percent": ("", "%"),
}


def _format(cents: int, k: int, decimal: str, grouping: str | None, affix: str, negative: str) -> str:
    value = abs(cents)
    whole, frac = divmod(value, 10**k)
    digits = str(whole)
    if grouping is not None:
        groups = []
        while len(digits) > 3:
            groups.insert(0, digits[-3:])
            digits = digits[:-3]
        digits = grouping.join([digits, *groups])
    number = digits + (decimal + str(frac).zfill(k) if k else "")
    pre, post = _SYMBOL[affix]
    text = f"{pre}{number}{post}"
    if cents < 0:
        text = {"lead": f"-{text}", "parens": f"({text})", "trail": f"{text}-"}[negative]
    return text


@st.composite
def formatted_columns(draw):
    k = draw(st.sampled_from([0, 1, 2, 3]))
    cents = draw(st.lists(st.integers(-(10**9), 10**9), min_size=4, max_size=25))
    decimal = draw(st.sampled_from([".", ","]))
    grouping = draw(st.sampled_from([None, ",", ".", " ", "\u00a0", "'"]).filter(lambda g: g != decimal))
    return {
        "cents": cents,
        "k": k,
        "decimal": decimal,
        "grouping": grouping,
        "affix": draw(st.sampled_from(sorted(_SYMBOL))),
        "negative": draw(st.sampled_from(["lead", "parens", "trail"])),
        "sep": draw(st.sampled_from([",", ";", "\t", "|"])),
        "declare_decimal": draw(st.booleans()),
        "declare_thousands": draw(st.booleans()),
    }


@settings(max_examples=80, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=formatted_columns())
def test_any_export_format_reads_back_the_same_values_or_stops_with_one_line(case):
    k, grouping = case["k"], case["grouping"]
    text = [_format(c, k, case["decimal"], grouping, case["affix"], case["negative"]) for c in case["cents"]]
    expected = np.array(case["cents"], dtype="float64") / 10**k
    thousands = None
    if case["declare_thousands"] and grouping is not None:
        thousands = " " if grouping == "\u00a0" else grouping
    csv = {
        "sep": None,
        "encoding": None,
        "decimal": case["decimal"] if case["declare_decimal"] else None,
        "thousands": thousands,
    }
    frame = pd.DataFrame(
        {"amount": text, "other": np.arange(len(text)) * 0.5, "Class": [i % 2 for i in range(len(text))]}
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        frame.to_csv(path, sep=case["sep"], index=False)
        try:
            table = read_table(path, "csv", csv)
            out, kinds, _ = clean_features(
                table, ["amount", "other"], _data(**{k_: v for k_, v in csv.items() if k_ in ("decimal", "thousands")})
            )
        except DataError as e:
            assert "\n" not in str(e) and ("'amount'" in str(e)), str(e)
            # a column whose every value shows its decimal mark (1 or 2 digits after it) is always read
            assert k not in (1, 2), f"{text[:3]} with {csv}: {e}"
            return
    assert kinds["amount"] == "numerical"
    np.testing.assert_allclose(
        out["amount"].to_numpy(dtype="float64"), expected, rtol=1e-12, atol=1e-9, err_msg=f"{text[:5]} with {csv}"
    )
    np.testing.assert_allclose(out["other"].to_numpy(dtype="float64"), frame["other"].to_numpy())
