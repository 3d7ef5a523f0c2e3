"""Messy real tables through the whole pipeline (prepare -> fit -> sample -> train -> evaluate, in process).

A user column named like an internal thing (the blend's old `is_synthetic` marker, SDV's table name)
must give exactly the verdicts of the same table with the column renamed; odd names, inf values and
grouped rare levels must run end to end.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.helpers import base_params, csv_table, tabular_frame, write_params

pytestmark = pytest.mark.slow


def _table() -> pd.DataFrame:
    df = tabular_frame(3000, seed=3)
    rng = np.random.default_rng(5)
    # a predictive user flag: set on 60% of frauds and 2% of legitimate rows
    df["flag"] = ((df["Class"] == 1) & (rng.random(len(df)) < 0.6) | (rng.random(len(df)) < 0.02)).astype(int)
    return df


def _run(root, df: pd.DataFrame, write=None, **data) -> pd.DataFrame:
    (root / "data/raw").mkdir(parents=True)
    (write or (lambda path: df.to_csv(path, index=False)))(root / "data/raw/t.csv")
    p = base_params()
    p["evaluate"]["segments"] = ["channel"]  # a feature column of the CSV table
    p["data"].update(csv_table(**data))
    write_params(root, p)
    out, err = io.StringIO(), io.StringIO()
    for cmd in (
        ["prepare"],
        *[[s, g, "0"] for s in ("fit", "sample") for g in p["generators"]],
        ["train"],
        ["evaluate"],
    ):
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--root", str(root), *cmd])
        assert code == 0, f"{cmd}: {err.getvalue()}"
    return pd.read_csv(root / "reports/comparison.csv")


@pytest.mark.parametrize("internal", ["is_synthetic", "fraud"])
def test_column_named_like_an_internal_one_changes_no_verdict(tmp_path, internal):
    df = _table()
    reference = _run(tmp_path / "renamed", df)
    clashing = _run(tmp_path / "clash", df.rename(columns={"flag": internal}))
    assert reference["verdict"].tolist() == clashing["verdict"].tolist()
    pd.testing.assert_frame_equal(reference, clashing)
    # the flag is a feature in both runs, and a predictive one (the comparison is not vacuous)
    schema = json.loads((tmp_path / "clash/data/prepared/schema.json").read_text())
    assert internal in [f["name"] for f in schema["features"]]
    without = _run(tmp_path / "without", df.drop(columns="flag")).set_index("config")
    assert reference.set_index("config").loc["baseline", "recall"] > without.loc["baseline", "recall"] + 0.05


def test_odd_names_inf_and_grouped_levels_end_to_end(tmp_path):
    df = _table().rename(columns={"amount": "amount[eur]", "v1": "risk<score>"})
    df.loc[::40, "risk<score>"] = np.inf
    df["merchant"] = [f"m{i % 700}" for i in range(len(df))]
    table = _run(tmp_path, df, max_categories=15)
    assert set(table["kind"]) == {"baseline", "reweight", "augmented"}
    assert table["recall"].between(0, 1).all()
    summary = (tmp_path / "reports/summary.md").read_text()
    assert "Traceback" not in summary and "nan%" not in summary


def _european_export(df: pd.DataFrame):
    """The same table as a European spreadsheet export: ';' separated, decimal commas, amounts as
    '1.234,56 €' (grouping dots), dd/mm/yyyy hh:mm:ss times."""
    out = df.copy()
    out["Time"] = out["Time"].dt.strftime("%d/%m/%Y %H:%M:%S")
    out["amount"] = [f"{v:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") + " €" for v in df["amount"]]
    return lambda path: out.to_csv(path, index=False, sep=";", decimal=",")


def test_a_formatted_export_gives_the_verdicts_of_the_plain_table_and_the_leak_is_named(tmp_path):
    """Number formats, day-first dates and the likely-leak warning end to end: a table written with ISO times
    (ending in Z) and plain numbers, and the same table exported with '1.234,56 €' amounts, decimal commas and
    dd/mm/yyyy times, give identical comparison tables; a chargeback-like column is named in both summaries."""
    df = _table()
    df["Time"] = pd.Timestamp("2024-01-13") + pd.to_timedelta(df["Time"] * 5, unit="s")  # 10 days, day > 12
    df["amount"] = (df["amount"] * 40).round(2)  # amounts into the thousands: grouping marks in the export
    rng = np.random.default_rng(9)
    y = df["Class"].to_numpy()
    df["chargeback"] = np.where(rng.random(len(df)) < 0.01, 1 - y, y)  # agrees with the label on ~99% of rows
    reference = _run(tmp_path / "plain", df.assign(Time=df["Time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")))
    exported = _run(tmp_path / "export", df, write=_european_export(df))
    text = (tmp_path / "export/data/raw/t.csv").read_text(encoding="utf-8")
    assert ";" in text and " €" in text and any("." in v and "," in v for v in text.split(";")[:200])
    pd.testing.assert_frame_equal(reference, exported)
    profile = json.loads((tmp_path / "export/data/prepared/profile.json").read_text())
    assert profile["input_contract"]["number_formats"]["amount"] == {"decimal": ",", "grouping": ".", "currency": "EUR"}
    for root in (tmp_path / "plain", tmp_path / "export"):
        assert "**Likely leak:** `chargeback`" in (root / "reports/summary.md").read_text()
