"""Column roles and types of the prepared data (`data/prepared/schema.json`).

The schema is written by the prepare stage and read by every later stage: generators use it
as SDV metadata, detectors use it to give categorical columns one fixed set of categories.

Roles: `label` (0/1 fraud flag), `time` (ordering only, never a feature), `ids` (kept for
grouping, never features), `meta` (kept for analysis, never features) and `features`.
Feature types: `numerical` (int or float dtype) and `categorical` (strings, with the
categories seen in the training split listed). The types are decided by the input contract
(`pipeline.data.contract`) in the prepare stage, and only there.

Optional per feature: `other` - the level that stands for every value not among `categories`
(set when `data.max_categories` groups rare levels; `conform` applies it to every table, so
generators, detectors and serving see the same levels), and `model_name` - the name used inside
XGBoost when the user's name holds characters XGBoost rejects (`[`, `]`, `<`). Every report
shows the user's name; only `to_model_frame` uses model names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.files import read_json, write_json


@dataclass
class Feature:
    name: str
    type: str  # "numerical" | "categorical"
    dtype: str  # pandas dtype name of the prepared column: int64, float64, object
    categories: list[str] | None = None
    other: str | None = None  # level standing for values not in `categories` (rare levels grouped)
    model_name: str | None = None  # name inside XGBoost when `name` is one it rejects

    @property
    def model_column(self) -> str:
        return self.model_name or self.name

    @property
    def is_categorical(self) -> bool:
        return self.type == "categorical"

    @property
    def is_integer(self) -> bool:
        return self.type == "numerical" and self.dtype.startswith("int")


#: prefix of every column the pipeline computes into a table that also holds user columns (the review queue's
#: `pipeline.score`, `pipeline.decision`, `pipeline.reasons`): no user column may start with it, so a computed column
#: can never meet a user column, whatever the user's names (`score`, `decision`, ... are fine as features)
RESERVED_PREFIX = "pipeline."

#: stand-in for a missing categorical value inside encoders (oversamplers, quality); the input contract
#: (pipeline.data.contract) keeps it out of user data, so it can never be confused with a real value
MISSING_TOKEN = "\x00missing"


def none_where(values: pd.Series, missing: pd.Series | np.ndarray) -> pd.Series:
    """The values as Python objects, None where `missing` is true (`values.isna()`: None, NaN, NaT and pd.NA)."""
    return values.astype(object).where(~np.asarray(missing, dtype=bool), None)  # type: ignore[call-overload]


def as_text(col: pd.Series) -> pd.Series:
    """Values as strings (missing stays missing); whole floats print without '.0' (a code 7.0 -> '7')."""
    if pd.api.types.is_float_dtype(col):
        vals = col.to_numpy(dtype="float64")
        finite = np.isfinite(vals)
        if finite.any() and np.all(vals[finite] == np.round(vals[finite])) and np.abs(vals[finite]).max() < 2**53:
            return pd.Series(
                [None if not f else str(int(v)) for v, f in zip(vals, finite)], index=col.index, dtype=object
            )
    out = none_where(col, col.isna())
    return out.map(
        lambda v: v if v is None else v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    ).astype(object)


def plain_dtype(dtype: Any) -> bool:
    """A dtype of numbers (not text, not booleans): values of it need no parsing."""
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def plain_number(col: pd.Series) -> bool:
    """A column already held as numbers (not text, not booleans): it needs no parsing."""
    return plain_dtype(col.dtype)


def _categorical_values(f: Feature, col: pd.Series) -> pd.Series:
    """A categorical feature's values as strings, missing as None (an empty string is missing, as in a CSV file and
    a JSON request); with rare levels grouped, a level outside the kept ones becomes the `other` level."""
    out = none_where(col, col.isna())
    out = out.map(lambda v: None if v is None or str(v).strip() == "" else str(v)).astype(object)
    if f.other is not None:
        kept = set(f.categories or [])
        out = out.map(lambda v: v if v is None or v in kept else f.other).astype(object)
    return out


_OPTIONAL = ("categories", "other", "model_name")  # left out of schema.json when None


@dataclass
class Schema:
    label: str
    features: list[Feature]
    time: str | None = None
    ids: list[str] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        taken = [
            c
            for c in (self.label, self.time, *self.ids, *self.meta, *self.feature_names)
            if c is not None and str(c).startswith(RESERVED_PREFIX)
        ]
        if taken:
            raise DataError(
                f"column(s) {taken} start with {RESERVED_PREFIX!r}, which the pipeline reserves for the "
                "columns it computes (review queue); rename them in the source, or drop them with "
                "data.drop_columns"
            )

    # -- views -------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.is_categorical]

    @property
    def numerical(self) -> list[str]:
        return [f.name for f in self.features if not f.is_categorical]

    @property
    def model_feature_names(self) -> list[str]:
        """Column names of `to_model_frame` (the user's names unless XGBoost rejects them)."""
        return [f.model_column for f in self.features]

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def seed_set(self, train: pd.DataFrame) -> pd.DataFrame:
        """The seed set: the fraud rows of the training split, feature columns only (fresh index)."""
        return self.conform(train.loc[train[self.label] == 1]).reset_index(drop=True)

    # -- conversions -------------------------------------------------------------------
    def sdv_metadata_dict(self) -> dict[str, Any]:
        """Single-table metadata in the SDV / SDMetrics dict format for the feature columns."""
        columns = {}
        for f in self.features:
            columns[f.name] = (
                {"sdtype": "categorical"}
                if f.is_categorical
                else {
                    "sdtype": "numerical",
                    "computer_representation": "Int64" if f.is_integer else "Float",
                }
            )
        return {"columns": columns}

    def conform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return the feature columns of `df` with the schema's dtypes (categoricals as str)."""
        self._check_columns(df)
        out: dict[str, pd.Series] = {}  # built at once: inserting 300 columns one by one fragments the frame
        for f in self.features:
            col = df[f.name]
            if f.is_categorical:
                out[f.name] = _categorical_values(f, col)
            elif f.is_integer:
                vals = col if plain_number(col) else pd.to_numeric(col, errors="coerce")
                out[f.name] = np.rint(vals).astype(f.dtype) if vals.notna().all() else vals.round().astype("Int64")
            else:
                out[f.name] = (col if plain_number(col) else pd.to_numeric(col, errors="coerce")).astype("float64")
        return pd.DataFrame(out, index=df.index, columns=self.feature_names)

    def _check_columns(self, df: pd.DataFrame) -> None:
        missing = [c for c in self.feature_names if c not in df.columns]
        if missing:
            raise DataError(f"table lacks feature columns {missing}; it must have the columns of schema.json")

    def to_model_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """Feature columns ready for XGBoost: categoricals as pandas Categorical with fixed categories.

        Values never seen in training become missing (XGBoost routes them like NaN), or the `other`
        level when rare levels are grouped. Columns carry the model names (`model_feature_names`).
        Numerical columns already held as numbers are converted together (one array; integers rounded as
        `conform` rounds them): a served request of one row pays one conversion, not one per column.
        """
        self._check_columns(df)
        numerical = [f for f in self.features if not f.is_categorical]
        dtypes = df.dtypes
        if not (df.columns.is_unique and all(plain_dtype(dtypes[f.name]) for f in numerical)):
            out = self.conform(df)
            for f in self.features:
                if f.is_categorical:
                    out[f.name] = pd.Categorical(out[f.name], categories=f.categories or [])
                elif f.is_integer:
                    out[f.name] = out[f.name].astype("float64")
            out.columns = self.model_feature_names
            return out
        values = df[[f.name for f in numerical]].to_numpy(dtype="float64", na_value=np.nan)
        whole = [i for i, f in enumerate(numerical) if f.is_integer]
        if whole:
            values[:, whole] = np.rint(values[:, whole])
        position = {f.name: i for i, f in enumerate(numerical)}
        cols = {
            f.model_column: (
                pd.Categorical(_categorical_values(f, df[f.name]), categories=f.categories or [])
                if f.is_categorical
                else values[:, position[f.name]]
            )
            for f in self.features
        }
        return pd.DataFrame(cols, index=df.index, columns=self.model_feature_names)

    # -- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "time": self.time,
            "ids": list(self.ids),
            "meta": list(self.meta),
            "features": [
                {k: v for k, v in f.__dict__.items() if v is not None or k not in _OPTIONAL} for f in self.features
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        return cls(
            label=d["label"],
            time=d.get("time"),
            ids=list(d.get("ids", [])),
            meta=list(d.get("meta", [])),
            features=[Feature(**f) for f in d["features"]],
        )

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path} not found; run the prepare stage first (dvc repro prepare)")
        return cls.from_dict(read_json(path))
