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
from tests.helpers import base_params, tabular_frame, write_params

pytestmark = pytest.mark.slow


def _table() -> pd.DataFrame:
    df = tabular_frame(3000, seed=3)
    rng = np.random.default_rng(5)
    # a predictive user flag: set on 60% of frauds and 2% of legitimate rows
    df["flag"] = ((df["Class"] == 1) & (rng.random(len(df)) < 0.6) | (rng.random(len(df)) < 0.02)).astype(int)
    return df


def _run(root, df: pd.DataFrame, **data) -> pd.DataFrame:
    (root / "data/raw").mkdir(parents=True)
    df.to_csv(root / "data/raw/t.csv", index=False)
    p = base_params()
    p["evaluate"]["segments"] = ["channel"]  # a feature column of the CSV table
    p["data"].update({"source": "csv", "path": "data/raw/t.csv", "label": "Class", "time_column": "Time",
                      "id_columns": [], "meta_columns": [], "drop_columns": [], **data})
    write_params(root, p)
    out, err = io.StringIO(), io.StringIO()
    for cmd in (["prepare"], *[[s, g, "0"] for s in ("fit", "sample") for g in p["generators"]], ["train"], ["evaluate"]):
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
