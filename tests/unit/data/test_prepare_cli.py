"""`python -m pipeline prepare` end to end on small tables: outputs, and for every bad input
one line on stderr, exit code 2 and no partial outputs."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.helpers import base_params, tabular_frame


def _csv_params(path, **data):
    p = base_params()
    p["data"].update({"source": "csv", "path": str(path), "label": "Class", "time_column": "Time",
                      "id_columns": [], "meta_columns": [], "drop_columns": []})
    p["data"].update(data)
    return p


def _run_prepare(root, capsys):
    code = main(["--root", str(root), "prepare"])
    err = capsys.readouterr().err.strip()
    return code, err


def test_prepare_csv_time_ordered(project, capsys):
    root = project(_csv_params("data/raw/t.csv"))
    tabular_frame(3000).to_csv(root / "data/raw/t.csv", index=False)
    code, err = _run_prepare(root, capsys)
    assert code == 0, err
    parts = {n: pd.read_parquet(root / f"data/prepared/{n}.parquet") for n in ("train", "valid", "test")}
    assert parts["train"]["Time"].max() < parts["valid"]["Time"].min() <= parts["valid"]["Time"].max() < parts["test"]["Time"].min()
    schema = json.loads((root / "data/prepared/schema.json").read_text())
    assert schema["label"] == "Class" and schema["time"] == "Time"
    assert {f["name"]: f["type"] for f in schema["features"]} == {
        "amount": "numerical", "v1": "numerical", "count": "numerical", "channel": "categorical"}
    prof = json.loads((root / "data/prepared/profile.json").read_text())
    assert prof["train"]["frauds"] >= 5 and prof["split"] == "time-ordered"


def test_prepare_ulb_shaped_and_no_time(project, capsys):
    rng = np.random.default_rng(1)
    n = 4000
    df = pd.DataFrame({"Time": np.sort(rng.uniform(0, 1e5, n)),
                       **{f"V{i}": rng.normal(size=n) for i in range(1, 29)},
                       "Amount": rng.lognormal(3, 1, n), "Class": (rng.random(n) < 0.02).astype(int)})
    root = project(_csv_params("data/raw/ulb.csv"))
    df.to_csv(root / "data/raw/ulb.csv", index=False)
    assert _run_prepare(root, capsys)[0] == 0
    schema = json.loads((root / "data/prepared/schema.json").read_text())
    assert len(schema["features"]) == 29  # V1..V28 + Amount; Time is not a feature

    root2 = project(_csv_params("data/raw/ulb.csv", time_column=None))
    assert _run_prepare(root2, capsys)[0] == 0
    prof = json.loads((root2 / "data/prepared/profile.json").read_text())
    assert prof["split"] == "stratified random"


def test_prepare_simulated(project, capsys):
    root = project(base_params())
    code, err = _run_prepare(root, capsys)
    assert code == 0, err
    train = pd.read_parquet(root / "data/prepared/train.parquet")
    schema = json.loads((root / "data/prepared/schema.json").read_text())
    names = [f["name"] for f in schema["features"]]
    assert "fraud_scenario" not in names and "customer_id" not in names and "tx_datetime" not in names
    assert "terminal_risk_7d" in names and train["is_fraud"].sum() >= 5


BAD = {
    "missing file": (lambda root: None, "not found"),
    "unreadable csv": (lambda root: (root / "data/raw/t.csv").write_bytes(b"\xff\xfe\x00garbage\n\x00\x01"), "cannot read"),
    "empty file": (lambda root: (root / "data/raw/t.csv").write_text(""), "is empty"),
    "header only": (lambda root: (root / "data/raw/t.csv").write_text("Time,amount,Class\n"), "no rows"),
    "missing label": (lambda root: tabular_frame().drop(columns="Class").to_csv(root / "data/raw/t.csv", index=False),
                      "label column 'Class' not found"),
    "other label values": (lambda root: tabular_frame().assign(Class=lambda d: d.Class + 1).to_csv(
        root / "data/raw/t.csv", index=False), "besides 0/1"),
    "no fraud": (lambda root: tabular_frame().assign(Class=0).to_csv(root / "data/raw/t.csv", index=False), "no fraud"),
    "all fraud": (lambda root: tabular_frame().assign(Class=1).to_csv(root / "data/raw/t.csv", index=False), "every one"),
    "too few frauds": (lambda root: tabular_frame(3000, fraud_rate=0.004).to_csv(root / "data/raw/t.csv", index=False),
                       "fewer than split.min_frauds"),
    "nan time": (lambda root: tabular_frame().assign(Time=lambda d: d.Time.where(d.index != 7)).to_csv(
        root / "data/raw/t.csv", index=False), "NaN/inf"),
    "duplicate columns": (lambda root: (root / "data/raw/t.csv").write_text("Time,a,a,Class\n1,2,3,0\n2,3,4,1\n"),
                          "duplicate column names"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_exit_2_no_outputs(project, capsys, case):
    make, match = BAD[case]
    root = project(_csv_params("data/raw/t.csv"))
    make(root)
    code, err = _run_prepare(root, capsys)
    assert code == 2
    assert err.startswith("error: ") and match in err
    assert len(err.splitlines()) == 1
    assert not (root / "data" / "prepared").exists()


def test_missing_id_column(project, capsys):
    root = project(_csv_params("data/raw/t.csv", id_columns=["account"]))
    tabular_frame().to_csv(root / "data/raw/t.csv", index=False)
    code, err = _run_prepare(root, capsys)
    assert code == 2 and "data.id_columns" in err and "account" in err
    assert not (root / "data" / "prepared").exists()


def test_bad_params_exit_2(project, capsys):
    p = base_params()
    p["split"]["bogus"] = 1
    root = project(p)
    code, err = _run_prepare(root, capsys)
    assert code == 2 and "split.bogus" in err
