"""Paths and validated parameters.

Paths are built here once; nothing else concatenates path strings. Parameters come from
`params.yaml` and are validated on load: an unknown key, a wrong type or an out-of-range
value is a `ConfigError` naming the key (e.g. ``split.train: must be in (0, 1), got 1.5``).
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from pipeline.errors import ConfigError

PARAMS_FILE = "params.yaml"


# ----------------------------------------------------------------------------------------
# Paths
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> "Paths":
        return cls(Path(root) if root is not None else Path.cwd())

    @property
    def params(self) -> Path:
        return self.root / PARAMS_FILE

    # prepare
    @property
    def prepared(self) -> Path:
        return self.root / "data" / "prepared"

    def split(self, name: str) -> Path:
        return self.prepared / f"{name}.parquet"

    @property
    def schema(self) -> Path:
        return self.prepared / "schema.json"

    @property
    def profile(self) -> Path:
        return self.prepared / "profile.json"

    # generators
    def generator_model(self, name: str) -> Path:
        return self.root / "models" / "generators" / f"{name}.pkl"

    def generator_reports(self, name: str) -> Path:
        return self.root / "reports" / "generators" / name

    def fit_report(self, name: str) -> Path:
        return self.generator_reports(name) / "fit.json"

    def quality_report(self, name: str) -> Path:
        return self.generator_reports(name) / "quality.json"

    def pool(self, name: str) -> Path:
        return self.root / "data" / "synthetic" / f"{name}.parquet"

    # detectors
    @property
    def detectors(self) -> Path:
        return self.root / "models" / "detectors"

    @property
    def train_report(self) -> Path:
        return self.root / "reports" / "train.json"

    # evaluate
    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics.json"

    @property
    def comparison(self) -> Path:
        return self.reports / "comparison.csv"

    @property
    def summary(self) -> Path:
        return self.reports / "summary.md"

    @property
    def plots(self) -> Path:
        return self.reports / "plots"

    # publish
    @property
    def mlflow_report(self) -> Path:
        return self.reports / "mlflow.json"

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"


# ----------------------------------------------------------------------------------------
# Validation helpers
# ----------------------------------------------------------------------------------------
def _fail(key: str, msg: str) -> None:
    raise ConfigError(f"{PARAMS_FILE}: {key}: {msg}")


def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _int(lo: int | None = None, hi: int | None = None) -> Callable[[str, Any], int]:
    def check(key: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(key, f"must be an integer, got {_type_name(v)} {v!r}")
        if lo is not None and v < lo:
            _fail(key, f"must be >= {lo}, got {v}")
        if hi is not None and v > hi:
            _fail(key, f"must be <= {hi}, got {v}")
        return v

    return check


def _float(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
    def check(key: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            _fail(key, f"must be a number, got {_type_name(v)} {v!r}")
        v = float(v)
        lo_bad = lo is not None and (v <= lo if lo_open else v < lo)
        hi_bad = hi is not None and (v >= hi if hi_open else v > hi)
        if lo_bad or hi_bad:
            lb = "(" if lo_open else "["
            rb = ")" if hi_open else "]"
            _fail(key, f"must be in {lb}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}{rb}, got {v}")
        return v

    return check


def _str(choices: tuple[str, ...] | None = None, nullable: bool = False):
    def check(key: str, v: Any) -> str | None:
        if v is None and nullable:
            return None
        if not isinstance(v, str) or not v:
            _fail(key, f"must be a non-empty string, got {_type_name(v)} {v!r}")
        if choices and v not in choices:
            _fail(key, f"must be one of {', '.join(choices)}; got {v!r}")
        return v

    return check


def _optional(checker: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def check(key: str, v: Any) -> Any:
        return None if v is None else checker(key, v)

    return check


def _char(choices: tuple[str, ...] | None = None, nullable: bool = False):
    def check(key: str, v: Any) -> str | None:
        if v is None and nullable:
            return None
        if not isinstance(v, str) or len(v) != 1:
            _fail(key, f"must be a single character (write a tab as \"\\t\"), got {_type_name(v)} {v!r}")
        if choices and v not in choices:
            _fail(key, f"must be one of {', '.join(repr(c) for c in choices)}; got {v!r}")
        return v

    return check


def _encoding(key: str, v: Any) -> str | None:
    if v is None:
        return None
    _str()(key, v)
    try:
        codecs.lookup(v)
    except LookupError:
        _fail(key, f"unknown text encoding {v!r}; use e.g. utf-8, latin-1, cp1252 or utf-16")
    return v


def _bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        _fail(key, f"must be true or false, got {_type_name(v)} {v!r}")
    return v


def _list(item: Callable[[str, Any], Any], min_len: int = 0, unique: bool = False):
    def check(key: str, v: Any) -> list:
        if not isinstance(v, list):
            _fail(key, f"must be a list, got {_type_name(v)} {v!r}")
        if len(v) < min_len:
            _fail(key, f"must have at least {min_len} item(s)")
        out = [item(f"{key}[{i}]", x) for i, x in enumerate(v)]
        if unique and len(set(map(repr, out))) != len(out):
            seen = [repr(x) for x in out]
            twice = sorted({x for x in seen if seen.count(x) > 1})
            _fail(key, f"lists {', '.join(twice)} more than once; list each value once")
        return out

    return check


def _section(spec: dict[str, Any]):
    def check(key: str, v: Any) -> dict:
        if v is None:
            v = {}
        if not isinstance(v, dict):
            _fail(key, f"must be a mapping, got {_type_name(v)}")
        unknown = sorted(set(v) - set(spec))
        if unknown:
            _fail(f"{key}.{unknown[0]}" if key else unknown[0], f"unknown key; valid keys: {', '.join(spec)}")
        out = {}
        for name, (checker, default) in spec.items():
            sub = f"{key}.{name}" if key else name
            if name in v:
                out[name] = checker(sub, v[name])
            elif default is REQUIRED:
                _fail(sub, "is required")
            else:
                out[name] = checker(sub, copy.deepcopy(default)) if isinstance(default, dict) else copy.deepcopy(default)
        return out

    return check


REQUIRED = object()


def _generators(key: str, v: Any) -> dict:
    if not isinstance(v, dict) or not v:
        _fail(key, "must be a mapping of generator name -> hyperparameters with at least one entry")
    out = {}
    for name, hp in v.items():
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            _fail(f"{key}.{name}", "generator names may hold only letters, digits, '_' and '-'")
        if hp is None:
            hp = {}
        if not isinstance(hp, dict):
            _fail(f"{key}.{name}", f"must be a mapping of hyperparameters, got {_type_name(hp)}")
        out[name] = dict(hp)
    return out


def _share(key: str, v: Any) -> float:
    return _float(0.0, 1.0, hi_open=True)(key, v)


SPEC = _section({
    "data": (_section({
        "source": (_str(("simulated", "csv", "parquet")), "simulated"),
        "path": (_str(nullable=True), None),
        "label": (_str(), "is_fraud"),
        "time_column": (_str(nullable=True), None),
        "id_columns": (_list(_str(), unique=True), []),
        "drop_columns": (_list(_str(), unique=True), []),
        "meta_columns": (_list(_str(), unique=True), []),
        # the input contract (pipeline/data/contract.py; README "Bring your own data")
        "categorical_columns": (_list(_str(), unique=True), []),
        "non_finite": (_str(("missing", "reject")), "missing"),
        "coerce_numeric": (_bool, False),
        "max_categories": (_optional(_int(2)), None),
        "csv": (_section({
            "sep": (_char(nullable=True), None),
            "encoding": (_encoding, None),
            "decimal": (_char((".", ",")), "."),
        }), {}),
        "simulate": (_section({
            "n_customers": (_int(1), 1000),
            "n_terminals": (_int(1), 2000),
            "n_days": (_int(1), 90),
            "start_date": (_str(), "2025-01-01"),
            "day_offset": (_int(0), 60),
            "radius": (_float(0.0, lo_open=True), 5.0),
            "seed": (_int(0), 7),
        }), {}),
        "features": (_section({
            "windows": (_list(_int(1), min_len=1, unique=True), [1, 7, 30]),
            "delay_days": (_int(0), 7),
        }), {}),
    }), {}),
    "split": (_section({
        "train": (_float(0.0, 1.0, lo_open=True, hi_open=True), 0.6),
        "gap": (_float(0.0, 1.0, hi_open=True), 0.05),
        "valid": (_float(0.0, 1.0, lo_open=True, hi_open=True), 0.15),
        "test": (_float(0.0, 1.0, lo_open=True, hi_open=True), 0.2),
        "min_frauds": (_int(1), 20),
        "seed": (_int(0), 0),
    }), {}),
    "generators": (_generators, REQUIRED),
    "augment": (_section({
        "shares": (_list(_share, min_len=1, unique=True), [0.0, 0.25, 0.5, 0.75]),
        "fit_seed": (_int(0), 0),
        "sample_seed": (_int(0), 0),
    }), {}),
    "quality": (_section({
        "min_quality_score": (_float(0.0, 1.0), 0.6),
        "max_exact_copy_share": (_float(0.0, 1.0), 0.05),
        "min_dcr_ratio": (_float(0.0), 0.5),
        "max_detection_auc": (_float(0.0, 1.0), 0.95),
        "exclude_failed": (_bool, False),
    }), {}),
    "detector": (_section({
        "seeds": (_list(_int(0), min_len=1, unique=True), [0, 1, 2]),
        "n_estimators": (_int(1), 400),
        "max_depth": (_int(1, 20), 6),
        "learning_rate": (_float(0.0, 1.0, lo_open=True), 0.1),
        "subsample": (_float(0.0, 1.0, lo_open=True), 0.8),
        "colsample_bytree": (_float(0.0, 1.0, lo_open=True), 0.8),
        "min_child_weight": (_float(0.0), 1.0),
        "early_stopping_rounds": (_int(1), 40),
        "n_jobs": (_int(1), 2),
    }), {}),
    "evaluate": (_section({
        "fpr_budgets": (_list(_float(0.0, 1.0, lo_open=True, hi_open=True), min_len=1, unique=True), [0.005, 0.001, 0.01]),
        "precision_floors": (_list(_float(0.0, 1.0, lo_open=True), unique=True), [0.5, 0.8]),
        "top_k": (_list(_int(1), unique=True), [100, 500]),
        "n_boot": (_int(100), 1000),
        "ci": (_float(0.5, 1.0, hi_open=True), 0.95),
        "seed": (_int(0), 0),
    }), {}),
    "tracking": (_section({
        "experiment": (_str(), "fraud-augmentation"),
        "model_name": (_str(), "fraud-detector"),
        "retries": (_int(0, 20), 3),
        "retry_wait_s": (_float(0.0, 60.0), 2.0),
    }), {}),
    "retrain": (_section({
        "margin": (_float(0.0, 1.0), 0.01),
        "advance_days": (_int(0), 30),
        "audit_log": (_str(), "reports/retrain/audit.jsonl"),
        "lock_file": (_str(), "reports/retrain/retrain.lock"),
    }), {}),
})


def validate(raw: Any) -> dict[str, Any]:
    """Validate a raw params mapping; return a complete dict with defaults filled in."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{PARAMS_FILE}: must be a mapping of sections (data, split, generators, ...)")
    params = SPEC("", raw)
    _cross_checks(params)
    return params


def _cross_checks(p: dict[str, Any]) -> None:
    s = p["split"]
    total = s["train"] + s["gap"] + s["valid"] + s["test"]
    if total > 1.0 + 1e-9:
        _fail("split", f"train + gap + valid + test must be <= 1, got {total:.3f}")
    d = p["data"]
    if d["source"] in ("csv", "parquet") and not d["path"]:
        _fail("data.path", f"is required when data.source is {d['source']}; set it to your {d['source']} file")
    if d["csv"]["sep"] is not None and d["csv"]["sep"] == d["csv"]["decimal"]:
        _fail("data.csv.decimal", f"must differ from data.csv.sep (both are {d['csv']['sep']!r})")
    if 0.0 not in p["augment"]["shares"]:
        p["augment"]["shares"] = [0.0] + p["augment"]["shares"]
    p["augment"]["shares"] = sorted(p["augment"]["shares"])
    from pipeline.generators.registry import generator_names, make_generator  # light import: no SDV

    valid = generator_names()
    for name, hp in p["generators"].items():
        hp = dict(hp)
        kind = hp.pop("type", name)
        if kind not in valid:
            _fail(f"generators.{name}", f"unknown generator {kind!r}; valid names: {', '.join(valid)} "
                  "(set `type:` to one of them to use a custom name)")
        try:
            make_generator(kind, hp)
        except ConfigError as e:
            _fail(f"generators.{name}", str(e))


def load_params(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read and validate params.yaml (default: ./params.yaml), applying dotted-key overrides."""
    path = Path(path) if path is not None else Path.cwd() / PARAMS_FILE
    if not path.exists():
        raise ConfigError(f"{path} not found; run from the project root or pass --params")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}; fix the syntax") from None
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value)
    return validate(raw)


def set_dotted(d: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def generator_kind(params: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    """(registry kind, hyperparameters without `type`) for generator `name` from params."""
    if name not in params["generators"]:
        raise ConfigError(f"{PARAMS_FILE}: generators.{name}: not configured; configured: "
                          f"{', '.join(params['generators'])}")
    hp = dict(params["generators"][name])
    return hp.pop("type", name), hp


def params_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
