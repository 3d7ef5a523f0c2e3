"""Property: on any messy table, `prepare` either writes a schema whose every feature every registered
generator and XGBoost can use, or exits 2 with one line and nothing written. Never a traceback, never a
silent retype.

Hypothesis builds tables with mixed types, NaN/inf, odd column names (the ones XGBoost rejects, dots,
accents, names of internal things), duplicate rows, tiny and huge cardinalities, stray strings in numeric
columns, and writes them as CSV with any of the supported separators in UTF-8 or latin-1, with the
dialect declared or left to detection. Derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.core.errors import GeneratorError
from pipeline.core.schema import Schema
from pipeline.experiment.detector import predict_scores, train_detector
from pipeline.generators import generator_names, make_generator
from tests.helpers import base_params, tiny, write_params

NAMES = [
    "amount[eur]",
    "risk<score>",
    "a.value",
    "is_synthetic",
    "ü ñ",
    "x y",
    "0",
    "fraud",
    "(other)",
    "c0",
    "amt",
    "n;items",
]
NUMERIC = ("float", "float_nonfinite", "int", "bool", "all_nan")
CATEGORICAL = ("cat_small", "cat_single", "cat_huge", "mixed")
KINDS = NUMERIC + CATEGORICAL + ("stray",)
LABEL = "Class"
#: generator errors that depend on where the frauds lie, not on column types (a table with one binary
#: feature has no "border" rows for borderline_smote; adasyn finds no hard rows): one clear line each
DATA_DEPENDENT = ("found no seed row on the class border", "generated no rows from")


def _column(kind: str, rng: np.random.Generator, y: np.ndarray) -> list | np.ndarray:
    n = len(y)
    if kind == "float":
        x = rng.normal(0, 1, n) * rng.choice([1.0, 1e6]) + 2 * y
        x[rng.random(n) < 0.05] = np.nan
        return x
    if kind == "float_nonfinite":
        x = rng.normal(0, 1, n) + y
        x[rng.random(n) < 0.05] = np.inf
        x[rng.random(n) < 0.03] = -np.inf
        x[rng.random(n) < 0.02] = 1e39  # beyond float32
        return x
    if kind == "int":
        return rng.integers(0, 100, n) + 5 * y
    if kind == "bool":
        return rng.random(n) < 0.3 + 0.4 * y
    if kind == "all_nan":
        return np.full(n, np.nan)
    if kind == "cat_small":
        return rng.choice(["wéb", "pos", "a;b", "x|y", "ATM"], n)
    if kind == "cat_single":
        return np.full(n, "k", dtype=object)
    if kind == "cat_huge":
        return [f"id{i}" for i in range(n)]
    if kind == "mixed":
        return [str(v) if rng.random() < 0.5 else w for v, w in zip(rng.integers(0, 9, n), rng.choice(["a", "b"], n))]
    if kind == "stray":
        vals = [f"{v:.2f}" for v in rng.normal(10, 2, n) + y]
        vals[1], vals[4] = "12,50", "-"
        return vals
    raise AssertionError(kind)


@st.composite
def messy_cases(draw):
    n = draw(st.integers(200, 360))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    y = (rng.random(n) < 0.25).astype(int)
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    kinds = [draw(st.sampled_from(KINDS)) for _ in names]
    df = pd.DataFrame({name: _column(kind, rng, y) for name, kind in zip(names, kinds)})
    df[LABEL] = y
    if draw(st.booleans()):
        df.insert(0, "Time", np.arange(n, dtype=float))
    if draw(st.booleans()):
        df = pd.concat([df, df.iloc[:20]], ignore_index=True)  # duplicate rows
    case = {
        "frame": df,
        "kinds": dict(zip(names, kinds)),
        "sep": draw(st.sampled_from([",", ";", "|", "\t"])),
        "encoding": draw(st.sampled_from(["utf-8", "latin-1"])),
        "declare_sep": draw(st.booleans()),
        "declare_encoding": draw(st.booleans()),
        "coerce_numeric": draw(st.booleans()),
        "max_categories": draw(st.sampled_from([None, 10])),
    }
    return case


def _expected_errors(case: dict) -> list[str]:
    """Substrings of the one-line errors this case is allowed (and, but for the split, required) to give."""
    kinds = case["kinds"].values()
    out = []
    if "stray" in kinds and not case["coerce_numeric"]:
        out.append("are not numbers")
    if "cat_huge" in kinds and case["max_categories"] is None:
        out.append("distinct values in the training split")
    text = case["frame"].to_csv(index=False)
    if case["encoding"] == "latin-1" and not case["declare_encoding"] and not text.isascii():
        out.append("not UTF-8 text")
    return out


def _params(case: dict) -> dict:
    p = base_params()
    has_time = "Time" in case["frame"].columns
    p["data"].update(
        {
            "source": "csv",
            "path": "data/raw/t.csv",
            "label": LABEL,
            "time_column": "Time" if has_time else None,
            "id_columns": [],
            "meta_columns": [],
            "drop_columns": [],
            "coerce_numeric": case["coerce_numeric"],
            "max_categories": case["max_categories"],
            "csv": {
                "sep": case["sep"] if case["declare_sep"] else None,
                "encoding": case["encoding"] if case["declare_encoding"] else None,
            },
        }
    )
    p["split"].update({"train": 0.5, "gap": 0.0, "valid": 0.25, "test": 0.25, "min_frauds": 10})
    return p


def _check_usable(root: Path, case: dict) -> None:
    schema = Schema.load(root / "data/prepared/schema.json")
    parts = {n: pd.read_parquet(root / f"data/prepared/{n}.parquet") for n in ("train", "valid", "test")}
    types = {f.name: f.type for f in schema.features}
    for name, kind in case["kinds"].items():
        expected = "categorical" if kind in CATEGORICAL else "numerical"
        assert types[name] == expected, f"{name!r} ({kind}) became {types[name]}: a silent retype"
        if kind == "stray":
            assert case["coerce_numeric"]
        if expected == "categorical":
            limit = case["max_categories"] or 50
            assert len(schema.feature(name).categories) <= limit
    train = parts["train"]
    for f in schema.features:
        if not f.is_categorical:
            vals = train[f.name].to_numpy(dtype="float64")
            assert not np.isinf(vals).any() and not (np.abs(vals[~np.isnan(vals)]) > 3.4e38).any()
    seeds = schema.conform(train[train[LABEL] == 1]).reset_index(drop=True)
    training = pd.concat([schema.conform(train), train[[LABEL]]], axis=1)
    for name in generator_names():
        gen = make_generator(name, tiny(name, **({"epochs": 1} if "epochs" in tiny(name) else {})))
        if len(seeds) < gen.min_rows:
            with pytest.raises(GeneratorError, match="seed rows"):
                gen.fit(seeds, schema, train=training, seed=0)
            continue
        try:
            gen.fit(seeds, schema, train=training, seed=0)
        except GeneratorError as e:
            assert any(d in str(e) for d in DATA_DEPENDENT) and "\n" not in str(e), str(e)
            continue
        pool = gen.sample(12, seed=1)
        assert list(pool.columns) == schema.feature_names and len(pool) == 12
    model, _ = train_detector(
        schema.to_model_frame(train),
        train[LABEL].to_numpy(),
        schema.to_model_frame(parts["valid"]),
        parts["valid"][LABEL].to_numpy(),
        {"n_estimators": 5, "max_depth": 2, "early_stopping_rounds": 2, "n_jobs": 1},
        seed=0,
    )
    scores = predict_scores(model, schema.to_model_frame(parts["test"]))
    assert np.isfinite(scores).all()


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=messy_cases())
def test_prepare_on_messy_tables_is_usable_or_one_line(case):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data/raw").mkdir(parents=True)
        write_params(root, _params(case))
        case["frame"].to_csv(root / "data/raw/t.csv", sep=case["sep"], index=False, encoding=case["encoding"])
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(["--root", str(root), "prepare"])  # anything but a PipelineError propagates: a traceback
        err = err.getvalue().strip()
        expected = _expected_errors(case)
        if code == 0:
            assert not expected, f"prepare accepted a table it must reject ({expected}): {out.getvalue()}"
            assert err == ""
            _check_usable(root, case)
            assert json.loads((root / "data/prepared/profile.json").read_text())["features"] == len(case["kinds"])
        else:
            assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
            assert not (root / "data/prepared").exists()
            allowed = expected + ["fewer than split.min_frauds"]
            assert any(e in err for e in allowed), f"unexpected error for {case['kinds']}: {err}"
