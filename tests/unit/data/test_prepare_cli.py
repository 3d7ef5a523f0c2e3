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
    p["data"].update(
        {
            "source": "csv",
            "path": str(path),
            "label": "Class",
            "time_column": "Time",
            "id_columns": [],
            "meta_columns": [],
            "drop_columns": [],
        }
    )
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
    assert (
        parts["train"]["Time"].max()
        < parts["valid"]["Time"].min()
        <= parts["valid"]["Time"].max()
        < parts["test"]["Time"].min()
    )
    schema = json.loads((root / "data/prepared/schema.json").read_text())
    assert schema["label"] == "Class" and schema["time"] == "Time"
    assert {f["name"]: f["type"] for f in schema["features"]} == {
        "amount": "numerical",
        "v1": "numerical",
        "count": "numerical",
        "channel": "categorical",
    }
    prof = json.loads((root / "data/prepared/profile.json").read_text())
    assert prof["train"]["frauds"] >= 5 and prof["split"] == "time-ordered"


def test_prepare_ulb_shaped_and_no_time(project, capsys):
    rng = np.random.default_rng(1)
    n = 4000
    df = pd.DataFrame(
        {
            "Time": np.sort(rng.uniform(0, 1e5, n)),
            **{f"V{i}": rng.normal(size=n) for i in range(1, 29)},
            "Amount": rng.lognormal(3, 1, n),
            "Class": (rng.random(n) < 0.02).astype(int),
        }
    )
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
    "unreadable csv": (
        lambda root: (root / "data/raw/t.csv").write_bytes(b"\xff\xfe\x00garbage\n\x00\x01"),
        "cannot read",
    ),
    "empty file": (lambda root: (root / "data/raw/t.csv").write_text(""), "is empty"),
    "header only": (lambda root: (root / "data/raw/t.csv").write_text("Time,amount,Class\n"), "no rows"),
    "missing label": (
        lambda root: tabular_frame().drop(columns="Class").to_csv(root / "data/raw/t.csv", index=False),
        "label column 'Class' not found",
    ),
    "other label values": (
        lambda root: tabular_frame().assign(Class=lambda d: d.Class + 1).to_csv(root / "data/raw/t.csv", index=False),
        "besides 0/1",
    ),
    "no fraud": (lambda root: tabular_frame().assign(Class=0).to_csv(root / "data/raw/t.csv", index=False), "no fraud"),
    "all fraud": (
        lambda root: tabular_frame().assign(Class=1).to_csv(root / "data/raw/t.csv", index=False),
        "every one",
    ),
    "too few frauds": (
        lambda root: tabular_frame(3000, fraud_rate=0.004).to_csv(root / "data/raw/t.csv", index=False),
        "fewer than split.min_frauds",
    ),
    "nan time": (
        lambda root: (
            tabular_frame()
            .assign(Time=lambda d: d.Time.where(d.index != 7))
            .to_csv(root / "data/raw/t.csv", index=False)
        ),
        "NaN/inf",
    ),
    "duplicate columns": (
        lambda root: (root / "data/raw/t.csv").write_text("Time,a,a,Class\n1,2,3,0\n2,3,4,1\n"),
        "duplicate column names",
    ),
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


# -- messy real tables (issue: no silent damage, no tracebacks): each case its own exact message ----------
def _write(df, **kw):
    return lambda root: df.to_csv(root / "data/raw/t.csv", index=False, **kw)


def _messy():
    d = tabular_frame()
    inf = d.copy()
    inf.loc[::50, "v1"] = np.inf
    inf.loc[5, "amount"] = -np.inf
    stray = d.astype({"amount": object})
    stray.loc[[3, 9, 20], "amount"] = ["12,50", "abc", "-"]
    accents = d.assign(channel=d["channel"].map({"web": "wéb", "pos": "pôs", "atm": "atm", "phone": "phone"}))
    ids = d.assign(merchant=[f"m{i % 2500}" for i in range(len(d))])
    return {
        "inf rejected on request": (
            _write(inf),
            {"non_finite": "reject"},
            "error: column 'amount' has 1 infinite or out-of-range value(s) (e.g. -inf); "
            "fix them in the file, or set data.non_finite: missing to treat them as missing "
            "values",
        ),
        "stray strings": (
            _write(stray),
            {},
            "error: column 'amount' is numeric but 3 of its 3000 values are not numbers (e.g. '12,50', "
            "'abc', '-'); fix them in the file, set data.coerce_numeric: true to treat them as missing "
            "values, or list the column in data.categorical_columns if it is a code",
        ),
        "single column": (
            _write(d, sep=":"),
            {},
            "reads as a single column (separators tried: ',' ';' '|' tab; header starts "
            "'Time:amount:v1:count:channel:Class'); set data.csv.sep in params.yaml to the file's "
            "separator",
        ),
        "wrong separator set": (
            _write(d, sep=";"),
            {"csv": {"sep": "|"}},
            "reads as a single column with data.csv.sep '|'",
        ),
        "latin-1 file": (_write(accents, encoding="latin-1"), {}, "it is not UTF-8 text (byte 0xe9 at position"),
        "decimal commas": (
            _write(d, sep=";", decimal=","),
            {"csv": {"decimal": "."}},
            "error: time column 'Time' holds numbers with decimal commas",
        ),
        "id-like categorical": (
            _write(ids),
            {},
            "error: categorical column 'merchant' has 1800 distinct values in the training split "
            "(e.g. 'm0', 'm1', 'm2'), more than 50; if it identifies something (an account, a "
            "merchant) list it in data.id_columns",
        ),
        "label in drop_columns": (
            _write(d),
            {"drop_columns": ["Class"]},
            "error: the label column 'Class' is also listed in data.drop_columns; the label "
            "cannot be dropped or used in another role: remove 'Class' from that list",
        ),
        "label in meta_columns": (
            _write(d),
            {"meta_columns": ["Class"]},
            "error: the label column 'Class' is also listed in data.meta_columns",
        ),
        "column in two roles": (
            _write(d),
            {"meta_columns": ["channel"], "id_columns": ["channel"]},
            "error: column 'channel' is listed in both data.id_columns and data.meta_columns; "
            "a column has one role: remove it from one of them",
        ),
        "time column also an id": (
            _write(d),
            {"id_columns": ["Time"]},
            "error: column 'Time' is listed in both data.time_column and data.id_columns",
        ),
        "column listed twice in one key": (
            _write(d),
            {"meta_columns": ["channel", "channel"]},
            "error: params.yaml: data.meta_columns: lists 'channel' more than once; list each value once",
        ),
        "declared categorical missing": (
            _write(d),
            {"categorical_columns": ["mcc"]},
            "error: data.categorical_columns names ['mcc'], which the table lacks",
        ),
    }


@pytest.mark.parametrize("case", sorted(_messy()))
def test_messy_input_one_exact_line_exit_2_no_outputs(project, capsys, case):
    make, data, message = _messy()[case]
    root = project(_csv_params("data/raw/t.csv", **data))
    make(root)
    code, err = _run_prepare(root, capsys)
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert message in err
    assert not (root / "data" / "prepared").exists()


@pytest.mark.parametrize(
    "case, data, note",
    [
        ("inf", {}, "column 'v1': 60 infinite or out-of-range value(s) treated as missing"),
        ("stray", {"coerce_numeric": True}, "column 'amount': 3 non-numeric value(s) treated as missing"),
        ("semicolon", {}, "read as CSV with separator ';' (detected"),
        ("tab", {}, "read as CSV with separator tab (detected"),
        ("decimal", {"csv": {"decimal": ","}}, "read as CSV with separator ';' (detected"),
        ("decimal detected", {}, "read as CSV with separator ';' (detected"),
        ("latin-1", {"csv": {"encoding": "latin-1"}}, None),
        ("ids grouped", {"max_categories": 20}, "column 'merchant': 1800 values; the 19 most frequent kept"),
        ("ids declared", {"id_columns": ["merchant"]}, None),
        ("odd names", {}, "column 'amount[eur]' is called 'amount(eur)' inside XGBoost"),
    ],
)
def test_messy_input_handled_when_allowed(project, capsys, case, data, note):
    d = tabular_frame()
    write = {
        "inf": _write(d.assign(v1=d["v1"].where(d.index % 50 != 0, np.inf))),
        "stray": _messy()["stray strings"][0],
        "semicolon": _write(d, sep=";"),
        "tab": _write(d, sep="\t"),
        "decimal": _write(d, sep=";", decimal=","),
        "decimal detected": _write(d, sep=";", decimal=","),
        "latin-1": _messy()["latin-1 file"][0],
        "ids grouped": _messy()["id-like categorical"][0],
        "ids declared": _messy()["id-like categorical"][0],
        "odd names": _write(d.rename(columns={"amount": "amount[eur]", "v1": "risk<score>"})),
    }[case]
    root = project(_csv_params("data/raw/t.csv", **data))
    write(root)
    code = main(["--root", str(root), "prepare"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    if note:
        assert note in out
    schema = json.loads((root / "data/prepared/schema.json").read_text())
    types = {f["name"]: f["type"] for f in schema["features"]}
    numeric = [c for c in ("amount", "v1", "count", "amount[eur]", "risk<score>") if c in types]
    assert all(types[c] == "numerical" for c in numeric)  # never a silent retype
    train = pd.read_parquet(root / "data/prepared/train.parquet")
    assert np.isfinite(train[numeric].to_numpy(dtype=float)[~train[numeric].isna().to_numpy()]).all()
    prof = json.loads((root / "data/prepared/profile.json").read_text())
    if case == "inf":
        assert prof["input_contract"]["non_finite_to_missing"] == {"v1": 60}
    if case == "ids grouped":
        assert len(train["merchant"].unique()) == 20 and "(other)" in set(train["merchant"])


def test_wide_table_prepares_without_a_single_warning(project, capsys):
    """300 columns, a third of them written as text (formatted numbers, categories): no PerformanceWarning
    (fragmented frames) or any other warning."""
    rng = np.random.default_rng(0)
    d = tabular_frame(1500)
    cols = {f"n{i}": rng.normal(size=len(d)) for i in range(200)}
    cols.update({f"m{i}": [f"€{v:,.2f}" for v in rng.normal(1000, 500, len(d))] for i in range(50)})
    cols.update({f"c{i}": rng.choice(["a", "b", "c"], len(d)) for i in range(50)})
    wide = pd.concat([d[["Time", "Class"]], pd.DataFrame(cols)], axis=1)
    root = project(_csv_params("data/raw/t.csv"))
    wide.to_csv(root / "data/raw/t.csv", index=False)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["--root", str(root), "prepare"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert sorted({f"{w.filename}:{w.lineno}" for w in caught}) == []
    schema = json.loads((root / "data/prepared/schema.json").read_text())
    assert len(schema["features"]) == 300
    train = pd.read_parquet(root / "data/prepared/train.parquet")
    assert train["m0"].dtype.kind == "f" and train["m0"].abs().max() > 1000  # €1,234.56 read as 1234.56
