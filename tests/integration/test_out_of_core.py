"""prepare -> fit -> sample -> train on a table given as Parquet parts (prepared out of core, splits written as
parts), with `data.legit_fraction`: both detector engines train on the same sampled, weighted legitimate rows while
the validation rows stay whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config.params import validate
from pipeline.core.files import read_json
from pipeline.core.paths import Paths
from tests.helpers import base_params, tabular_frame

pytestmark = pytest.mark.slow


def test_partitioned_input_through_train_with_a_legit_fraction(tmp_path):
    from pipeline.stages import fit, prepare, sample, train

    raw = tmp_path / "data/raw/parts"
    raw.mkdir(parents=True)
    table = tabular_frame(n=16000, fraud_rate=0.03, seed=5)
    for i, rows in enumerate(np.array_split(np.arange(len(table)), 4)):
        table.iloc[rows].to_parquet(raw / f"tx-{i}.parquet", index=False)
    p = base_params()
    p["data"].update(
        {"source": "parquet", "path": "data/raw/parts", "label": "Class", "time_column": "Time", "id_columns": []}
        | {"meta_columns": [], "legit_fraction": 0.5}
    )
    p["generators"] = {"smote": {"k_neighbors": 5}}
    p["detector"].update({"seeds": [0], "n_estimators": 40})
    p["evaluate"]["segments"] = []
    params = validate(p)
    paths = Paths.at(tmp_path)
    profile = prepare.run(params, paths)
    parts = sorted(paths.split("train").glob("part-*.parquet"))
    assert len(parts) == 3 and all(len(pd.read_parquet(q)) for q in parts)  # the last input part holds no train row
    fit.run(params, paths, "smote", 0)
    sample.run(params, paths, "smote", 0)
    train.run(params, paths)
    report = read_json(paths.train_report)
    assert report["legit_fraction"] == 0.5 and report["valid_rows"] == profile["valid"]["rows"]
    assert report["train_rows"] == profile["train"]["rows"]
    used = report["train_rows_used"]
    legit = profile["train"]["rows"] - profile["train"]["frauds"]
    assert used - profile["train"]["frauds"] == pytest.approx(legit / 2, rel=0.1)
    # the stage starts its own LocalCluster (a Client made here first, as tests/integration/test_compute.py does, left
    # xgboost.dask waiting forever on this 2-core machine, with or without this change)
    dask_params = validate(
        {**p, "detector": {**p["detector"], "engine": "dask"}}
        | {"compute": {**p["compute"], "scheduler": "local", "workers": 2, "min_tasks": 1}}
    )
    train.run(dask_params, paths)
    report = read_json(paths.train_report)
    assert report["engine"] == "dask" and report["train_rows_used"] == used  # the same sampled rows
