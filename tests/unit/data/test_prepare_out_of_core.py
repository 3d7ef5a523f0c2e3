"""Prepare out of core (`pipeline.data.partitioned`): the same table as one file through the pandas path and as
parts (Parquet parts, CSV files) on dask.dataframe gives the same schema.json, the same profile (splits, input
contract) and the same prepared rows; decisions that only the whole column can take are taken from all parts;
a bad input is one line and nothing is written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.config.params import validate
from pipeline.core.errors import DataError
from pipeline.core.paths import Paths
from pipeline.data.sources import input_parts
from pipeline.stages import prepare as prepare_stage
from tests.helpers import base_params


def _table(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.04).astype(int)
    seconds = np.sort(rng.integers(0, 60 * 86400, n))
    df = pd.DataFrame(
        {
            "when": pd.Timestamp("2025-03-01") + pd.to_timedelta(seconds, unit="s"),
            "amount": np.round(rng.lognormal(3, 1, n) * (1 + 2 * y), 2),
            "v1": rng.normal(0, 1, n) + y,
            "count": rng.poisson(3, n),
            "channel": rng.choice(
                ["web", "pos", "atm", "phone", "mail", "kiosk"], n, p=[0.4, 0.3, 0.2, 0.05, 0.03, 0.02]
            ),
            "Class": y,
        }
    )
    df.loc[7, "v1"] = np.inf
    return df


def _params(path: str, **data) -> dict:
    p = base_params()
    p["data"].update(
        {"source": "parquet", "path": path, "label": "Class", "time_column": "when", "id_columns": []}
        | {"meta_columns": [], "drop_columns": []}
        | data
    )
    p["evaluate"]["segments"] = []
    p["unseen"]["column"] = None
    p["redteam"]["tactics"] = []
    return validate(p)


def _prepare(root, params) -> tuple[Paths, dict]:
    paths = Paths.at(root)
    return paths, prepare_stage.run(params, paths)


def _same_outputs(a: Paths, b: Paths, prof_a: dict, prof_b: dict) -> None:
    """Same schema.json, profile and rows, in the same order (the inputs here are in time order, where the pandas
    path's sort by time and the parts' own order agree): every later stage reads identical splits, so it reaches
    the same verdicts."""
    assert json.loads(a.schema.read_text()) == json.loads(b.schema.read_text())
    for key in ("split", "features", "categorical_features", "rows_total", "frauds_total", "train", "valid", "test"):
        assert prof_a[key] == prof_b[key], key
    assert prof_a.get("input_contract") == prof_b.get("input_contract")
    for name in ("train", "valid", "test"):
        assert b.split(name).is_dir()
        pd.testing.assert_frame_equal(pd.read_parquet(a.split(name)), pd.read_parquet(b.split(name)))


def _write_parts(df: pd.DataFrame, folder, k: int, suffix: str = "parquet", **kw) -> None:
    folder.mkdir(parents=True)
    for i, part in enumerate(np.array_split(np.arange(len(df)), k)):
        rows = df.iloc[part]
        if suffix == "parquet":
            rows.to_parquet(folder / f"part{i}.parquet", index=False)
        else:
            rows.to_csv(folder / f"part{i}.csv", index=False, **kw)


def test_parquet_parts_give_the_pandas_paths_schema_profile_and_rows(tmp_path):
    df = _table()
    (tmp_path / "a").mkdir()
    df.to_parquet(tmp_path / "a/whole.parquet", index=False)
    _write_parts(df, tmp_path / "b/parts", 5)
    settings = {"max_categories": 4}
    a, prof_a = _prepare(tmp_path / "a", _params("whole.parquet", **settings))
    b, prof_b = _prepare(tmp_path / "b", _params("parts", **settings))
    assert prof_b["input_contract"]["non_finite_to_missing"] == {"v1": 1}
    assert prof_b["input_contract"]["grouped_categories"]["channel"]["levels_in_train"] == 6
    _same_outputs(a, b, prof_a, prof_b)


def test_stratified_split_without_a_time_column_is_the_same_per_partition(tmp_path):
    df = _table(seed=1).drop(columns=["when"])
    (tmp_path / "a").mkdir()
    df.to_parquet(tmp_path / "a/whole.parquet", index=False)
    _write_parts(df, tmp_path / "b/parts", 4)
    a, prof_a = _prepare(tmp_path / "a", _params("whole.parquet", time_column=None))
    b, prof_b = _prepare(tmp_path / "b", _params("parts/*.parquet", time_column=None))
    _same_outputs(a, b, prof_a, prof_b)


def test_csv_files_decide_formats_and_date_order_from_every_part(tmp_path):
    """Amounts with decimal commas and dd/mm dates whose only proof (a day above 12, a value with two decimals)
    sits in the LAST file: a per-file decision would fail on the first files; the whole column decides."""
    df = _table(3000, seed=2)
    df = df[df["when"].dt.day <= 12].reset_index(drop=True)  # no day proves the order ...
    text = df.copy()
    text["when"] = df["when"].dt.strftime("%d/%m/%Y %H:%M:%S")
    text["amount"] = df["amount"].round(0).astype(int).map(lambda v: f"{v * 1000:,}")  # ambiguous 1,000 ...
    text.loc[len(text) - 1, "when"] = "25/04/2025 10:00:00"  # ... until the last file
    text.loc[len(text) - 1, "amount"] = "12,5"
    text.loc[3, "count"] = "-"
    (tmp_path / "a").mkdir()
    text.to_csv(tmp_path / "a/whole.csv", index=False, sep=";")
    _write_parts(text, tmp_path / "b/parts", 3, suffix="csv", sep=";")
    settings = {"source": "csv", "coerce_numeric": True}
    a, prof_a = _prepare(tmp_path / "a", _params("whole.csv", **settings))
    b, prof_b = _prepare(tmp_path / "b", _params("parts", **settings))
    contract = prof_b["input_contract"]
    assert contract["number_formats"]["amount"]["decimal"] == ","
    assert contract["coerced_to_missing"]["count"]["count"] == 1
    assert contract["csv"]["sep"] == ";"
    _same_outputs(a, b, prof_a, prof_b)
    with pytest.raises(DataError, match="day/month or month/day"):  # the first file alone cannot decide
        _prepare(tmp_path / "b", _params("parts/part0.csv", **settings))


def test_bad_input_is_one_line_and_nothing_is_written(tmp_path):
    _write_parts(_table(), tmp_path / "parts", 3)
    params = _params("parts", non_finite="reject")
    with pytest.raises(DataError, match=r"column 'v1' has 1 infinite"):
        _prepare(tmp_path, params)
    assert not (tmp_path / "data/prepared").exists()


def test_which_inputs_go_out_of_core(tmp_path):
    _table(500).to_parquet(tmp_path / "t.parquet", index=False)
    assert input_parts(_params("t.parquet"), tmp_path) is None
    assert input_parts(_params("t.parquet", out_of_core_above="1KiB"), tmp_path) == [tmp_path / "t.parquet"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="folder without parquet files"):
        input_parts(_params("empty"), tmp_path)
    with pytest.raises(DataError, match="matches no file"):
        input_parts(_params("nothing-*.parquet"), tmp_path)
