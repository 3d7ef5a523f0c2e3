"""The input contract: which feature columns `prepare` accepts, and as what.

Every feature column's type is decided here, once, and recorded in `schema.json`; later stages
never guess again. What the contract does with each kind of messy input (docs/data.md, "The input
contract", lists the same rules for users):

* **types** - numbers and booleans are `numerical` (integers stored as int64 only when exact,
  below 2**53; larger ones as float64); strings and pandas categoricals are
  `categorical`; a text column whose every value is a number is `numerical` (noted in
  `profile.json`); `data.categorical_columns` forces a column to be categorical (codes such as
  merchant category codes or zip codes). Date and duration columns are not features: an error
  says to use `data.time_column`, `meta_columns` or `drop_columns`.
* **non-finite numbers** - `inf`, `-inf` and magnitudes beyond float32 (XGBoost stores features
  as float32, where they become infinite): with `data.non_finite: missing` (default) they become
  missing values, counted per column in `profile.json`; with `reject` they are an error.
* **stray strings in a numeric column** - a text column where at least `MOSTLY_NUMERIC` of the
  values are numbers but some are not (`12,50`, `-`, `abc`): an error naming the column with
  examples, never a silent retype to categorical. `data.coerce_numeric: true` turns the strays into
  missing values (counted). Numbers written with decimal commas while `data.csv.decimal: "."` is set get
  a hint to set it to "," (or null).
* **number formats** - grouping and decimal marks, currency, percent, accounting negatives: read in ONE
  format per column decided from the whole column by `pipeline.data.numbers`, or one line naming the
  column, two examples and `data.csv.thousands` when a mark could be read either way (`1,979`).
* **likely leaks** - `likely_leaks` names a feature that alone separates the training classes almost
  perfectly (AUC >= `LEAK_AUC`), for prepare to print and record; nothing is dropped.
* **high cardinality** - a categorical column with more than `MAX_LEVELS` distinct values in the
  training split is an error suggesting `data.id_columns`; with `data.max_categories: N` every
  categorical column keeps its N-1 most frequent training values and the rest become one `other`
  level (`Schema.conform` applies it to every table: generators, detectors, serving).
* **names** - XGBoost rejects `[`, `]` and `<` in feature names; such features get a model name
  (`Feature.model_name`) used only inside XGBoost, while every report keeps the user's name.
* **reserved values** - `MISSING_TOKEN`, the encoders' stand-in for a missing category, may not
  occur as a value.

Internal marker columns never share the user's namespace: the blend keeps its synthetic-row mask
outside the table (`pipeline.experiment.blend`), so any user column name is safe.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.schema import MISSING_TOKEN, Feature, Schema, as_text
from pipeline.data.numbers import read_numbers

#: most distinct values a categorical feature may have in the training split unless data.max_categories is set
MAX_LEVELS = 50
#: share of a text column's values that must be numbers for it to count as a numeric column with stray strings
MOSTLY_NUMERIC = 0.9
#: XGBoost holds features as float32: larger magnitudes become inf there
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: characters XGBoost rejects in feature names, and what they become in model names
_UNSAFE = {"[": "(", "]": ")", "<": "(lt)"}
_OTHER = "(other)"


def _examples(values, k: int = 3) -> str:
    seen: list[str] = []
    for v in values:
        r = repr(v[:30]) if isinstance(v, str) else str(v.item() if hasattr(v, "item") else v)
        if r not in seen:
            seen.append(r)
        if len(seen) == k:
            break
    return ", ".join(seen)


def clean_features(
    table: pd.DataFrame, features: list[str], data: dict[str, Any], categorical: list[str] | tuple = ()
) -> tuple[pd.DataFrame, dict[str, str], dict[str, Any]]:
    """Decide each feature's type and clean its values (whole table, before the split).

    `data` is the `data` params section (non_finite, coerce_numeric, csv.decimal). Returns the
    table (a copy, feature columns cleaned), {feature: "numerical" | "categorical"} and notes for
    profile.json. Raises `DataError` with one line naming the column, the problem and the fix.
    """
    table = table.copy()
    kinds: dict[str, str] = {}
    notes: dict[str, Any] = {
        "non_finite_to_missing": {},
        "coerced_to_missing": {},
        "text_parsed_as_numbers": [],
        "number_formats": {},
    }
    declared = set(categorical)
    for name in features:
        col = table[name]
        if name in declared:
            table[name] = as_text(col)
            kinds[name] = "categorical"
        elif (
            pd.api.types.is_datetime64_any_dtype(col)
            or pd.api.types.is_timedelta64_dtype(col)
            or isinstance(col.dtype, pd.PeriodDtype)
        ):
            raise DataError(
                f"column {name!r} holds dates or durations, which are not features; set it as "
                "data.time_column, list it in data.meta_columns or data.drop_columns, or derive "
                "numeric features from it first"
            )
        elif isinstance(col.dtype, pd.CategoricalDtype):  # before the numeric test: categories may be numbers
            table[name] = as_text(col)
            kinds[name] = "categorical"
        elif pd.api.types.is_bool_dtype(col):
            kinds[name] = "numerical"
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_complex_dtype(col):
            table[name] = _finite(col, name, data["non_finite"], notes)
            kinds[name] = "numerical"
        else:
            kinds[name] = _text_column(table, name, data, notes)
    for name in features:
        if kinds[name] == "categorical" and (table[name] == MISSING_TOKEN).any():
            raise DataError(
                f"column {name!r} holds the value {MISSING_TOKEN!r}, which the pipeline reserves for "
                "missing categories; replace it in the file"
            )
    notes = {k: v for k, v in notes.items() if v}
    return table, kinds, notes


def _finite(col: pd.Series, name: str, policy: str, notes: dict[str, Any]) -> pd.Series:
    vals = pd.to_numeric(col, errors="coerce").astype("float64")
    arr = vals.to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(arr) & ~(np.abs(arr) <= FLOAT32_MAX)
    if not bad.any():
        return col
    n = int(bad.sum())
    if policy == "reject":
        raise DataError(
            f"column {name!r} has {n} infinite or out-of-range value(s) (e.g. {_examples(arr[bad])}); "
            "fix them in the file, or set data.non_finite: missing to treat them as missing values"
        )
    notes["non_finite_to_missing"][name] = n
    return vals.mask(bad)


def _text_column(table: pd.DataFrame, name: str, data: dict[str, Any], notes: dict[str, Any]) -> str:
    """Decide a text column: numbers (all or, with coerce_numeric, mostly; in one format read from the whole
    column by `pipeline.data.numbers.read_numbers`), or categorical."""
    col = table[name]
    present = col.notna()
    text = col[present].map(str).str.strip()
    blank = text == ""
    text = text[~blank]
    if text.empty:
        table[name] = as_text(col)
        return "categorical"
    csv = data.get("csv") or {}
    decimal, thousands = csv.get("decimal"), csv.get("thousands")
    parsed, fmt = read_numbers(text, name, decimal, thousands, min_share=MOSTLY_NUMERIC)
    ok = parsed.notna() | text.str.lower().isin(("nan",))
    share = float(ok.mean())
    if share == 1.0 or share >= MOSTLY_NUMERIC:
        stray = text[~ok]
        if len(stray) and not data["coerce_numeric"]:
            raise DataError(
                f"column {name!r} is numeric but {len(stray)} of its {len(text)} values are not numbers "
                f"(e.g. {_examples(stray)}); fix them in the file, set data.coerce_numeric: true to treat them as "
                "missing values, or list the column in data.categorical_columns if it is a code"
            )
        if len(stray):
            notes["coerced_to_missing"][name] = {"count": int(len(stray)), "examples": list(dict.fromkeys(stray))[:5]}
        else:
            notes["text_parsed_as_numbers"].append(name)
        if fmt is not None and not fmt.is_plain():
            notes["number_formats"][name] = fmt.describe()
        numbers = pd.Series(np.nan, index=col.index, dtype="float64")
        numbers[parsed.index] = parsed.astype("float64")
        table[name] = _finite(numbers, name, data["non_finite"], notes)
        return "numerical"
    if decimal == ".":
        comma, _ = read_numbers(text, name, ",", thousands, min_share=MOSTLY_NUMERIC)
        if float(comma.notna().mean()) >= MOSTLY_NUMERIC:
            raise DataError(
                f"column {name!r} holds numbers with decimal commas (e.g. "
                f'{_examples(text[text.str.contains(",", regex=False)])}); set data.csv.decimal: "," '
                "(or null to detect it per column) in params.yaml"
            )
    table[name] = as_text(col)
    return "categorical"


def model_names(features: list[str]) -> dict[str, str]:
    """{user name: model name} for the features whose names XGBoost rejects; model names are unique."""
    taken = set(features)
    out: dict[str, str] = {}
    for name in features:
        if not any(c in name for c in _UNSAFE):
            continue
        base = "".join(_UNSAFE.get(c, c) for c in name)
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        taken.add(candidate)
        out[name] = candidate
    return out


def categorical_levels(train_values: pd.Series, name: str, max_categories: int | None) -> tuple[list[str], str | None]:
    """The levels of a categorical feature from the TRAINING split: (categories, other level or None)."""
    counts = train_values.dropna().map(str).value_counts()
    levels = sorted(counts.index)
    limit = MAX_LEVELS if max_categories is None else max_categories
    if len(levels) <= limit:
        return levels, None
    if max_categories is None:
        top = ", ".join(repr(v[:20]) for v in list(counts.index[:3]))
        raise DataError(
            f"categorical column {name!r} has {len(levels)} distinct values in the training split (e.g. {top}), more "
            f"than {MAX_LEVELS}; if it identifies something (an account, a merchant) list it in data.id_columns, "
            "otherwise set data.max_categories (e.g. 20) to group its rarest values into one level, or list it "
            "in data.drop_columns"
        )
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = sorted(v for v, _ in ranked[: max_categories - 1])
    other, i = _OTHER, 2
    while other in counts.index:
        other, i = f"{_OTHER[:-1]} {i})", i + 1
    return kept + [other], other


#: a single feature whose AUC on its own (either direction) reaches this on the training split is named as a
#: likely leak; a label proxy that agrees with the label on 98% of rows scores about 0.98
LEAK_AUC = 0.97


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC of one score (ties count half), through the rank-sum."""
    ranks = pd.Series(score).rank(method="average").to_numpy()
    n1 = int(y.sum())
    n0 = len(y) - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def likely_leaks(train: pd.DataFrame, schema: Schema, label: str, threshold: float = LEAK_AUC) -> list[dict[str, Any]]:
    """Features that on their own separate fraud from legitimate rows of the training split almost perfectly
    (AUC >= `threshold` either way; a categorical scores each row by its level's fraud rate, a missing value
    is its own level): most likely a label proxy (a chargeback flag, a case status) known only after the fact.
    Returned for prepare to print and profile.json (read by the evaluate summary); nothing is dropped."""
    y = train[label].to_numpy().astype(int)
    if y.min() == y.max():
        return []
    out = []
    for f in schema.features:
        col = train[f.name]
        if f.is_categorical:
            key = col.astype(object).where(col.notna(), "\x00missing")
            score = key.map(pd.Series(y, index=key.index).groupby(key).mean()).to_numpy(dtype="float64")
        else:
            vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64")
            if np.isnan(vals).all():
                continue
            lo = np.nanmin(vals)
            score = np.where(np.isnan(vals), lo - 1.0, vals) if np.isfinite(lo) else np.nan_to_num(vals, nan=-np.inf)
        auc = _auc(score, y)
        best = max(auc, 1.0 - auc)
        if best >= threshold:
            direction = (
                "fraud-rate per level"
                if f.is_categorical
                else "higher values mean fraud"
                if auc >= 0.5
                else "lower values mean fraud"
            )
            out.append({"column": f.name, "auc": round(best, 4), "score": direction})
    return sorted(out, key=lambda d: -d["auc"])


def infer_schema(
    train: pd.DataFrame,
    label: str,
    time: str | None = None,
    ids: list[str] | None = None,
    meta: list[str] | None = None,
    kinds: dict[str, str] | None = None,
    max_categories: int | None = None,
) -> Schema:
    """The schema of the prepared data from the training split.

    `kinds` ({feature: "numerical" | "categorical"}, from `clean_features`) fixes the types; without
    it numbers and booleans are numerical and the rest categorical.
    """
    ids, meta = list(ids or []), list(meta or [])
    skip = {label, *ids, *meta} | ({time} if time else set())
    names = [c for c in train.columns if c not in skip]
    renamed = model_names(names)
    features = []
    for name in names:
        col = train[name]
        kind = (kinds or {}).get(name) or (
            "numerical" if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col) else "categorical"
        )
        if kind == "categorical":
            cats, other = categorical_levels(col, name, max_categories)
            f = Feature(name, "categorical", "object", cats, other=other)
        elif pd.api.types.is_bool_dtype(col) or (
            pd.api.types.is_integer_dtype(col)
            and not col.isna().any()
            and (col.empty or float(col.abs().max()) < 2**53)
        ):
            f = Feature(name, "numerical", "int64")
        else:
            f = Feature(name, "numerical", "float64")
        f.model_name = renamed.get(name)
        features.append(f)
    return Schema(label=label, time=time, ids=ids, meta=meta, features=features)
