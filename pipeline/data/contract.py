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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.schema import MISSING_TOKEN, Feature, Schema, as_text
from pipeline.data.numbers import NumberReading, add_counts, decide_numbers, value_counts

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


@dataclass
class ColumnFacts:
    """What the contract decides a feature column on: aggregates that add up over a table's partitions
    (`merge_facts`), so a table read whole and the same table read part by part get the same decisions."""

    kind: str  # declared | temporal | category | bool | numeric | text
    non_finite: int = 0  # numeric: infinite or beyond-float32 values
    non_finite_examples: list = field(default_factory=list)  # the first distinct ones, in row order
    counts: pd.Series | None = None  # text: {stripped non-blank value: rows} in first-appearance order
    token: bool = False  # MISSING_TOKEN occurs among the values as text (declared, category, text)


def _kind(col: pd.Series, declared: bool) -> str:
    if declared:
        return "declared"
    if (
        pd.api.types.is_datetime64_any_dtype(col)
        or pd.api.types.is_timedelta64_dtype(col)
        or isinstance(col.dtype, pd.PeriodDtype)
    ):
        return "temporal"
    if isinstance(col.dtype, pd.CategoricalDtype):  # before the numeric test: categories may be numbers
        return "category"
    if pd.api.types.is_bool_dtype(col):
        return "bool"
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_complex_dtype(col):
        return "numeric"
    return "text"


def _bad_floats(col: pd.Series) -> tuple[pd.Series, np.ndarray]:
    vals = pd.to_numeric(col, errors="coerce").astype("float64")
    arr = vals.to_numpy()
    with np.errstate(invalid="ignore"):
        return vals, ~np.isnan(arr) & ~(np.abs(arr) <= FLOAT32_MAX)


def _distinct(values, k: int = 3) -> list:
    out: list = []
    for v in values:
        v = v.item() if hasattr(v, "item") else v
        if v not in out:
            out.append(v)
        if len(out) == k:
            break
    return out


def column_facts(col: pd.Series, declared: bool = False) -> ColumnFacts:
    """The facts of one feature column (the whole column, or one partition of it)."""
    facts = ColumnFacts(_kind(col, declared))
    if facts.kind == "numeric":
        vals, bad = _bad_floats(col)
        facts.non_finite = int(bad.sum())
        facts.non_finite_examples = _distinct(vals.to_numpy()[bad])
    elif facts.kind == "text":
        text = col[col.notna()].map(str).str.strip()
        facts.counts = value_counts(text[text != ""])
    if facts.kind in ("declared", "category", "text"):
        facts.token = bool((as_text(col) == MISSING_TOKEN).any())
    return facts


def merge_facts(a: ColumnFacts, b: ColumnFacts) -> ColumnFacts:
    """The facts of two consecutive parts of a column (a first); a column whose parts differ in kind (a number
    type in one file, text in another) is an error."""
    if a.kind != b.kind:
        raise DataError(
            f"a column is {a.kind} in one part of the input and {b.kind} in another; write every part "
            "with the same column types"
        )
    counts = None
    if a.counts is not None:
        assert b.counts is not None  # columns of one kind carry the same facts
        counts = add_counts(a.counts, b.counts)
    return ColumnFacts(
        a.kind,
        a.non_finite + b.non_finite,
        _distinct(a.non_finite_examples + b.non_finite_examples),
        counts,
        a.token or b.token,
    )


def table_facts(table: pd.DataFrame, features: list[str], categorical: list[str] | tuple = ()) -> dict:
    """{feature: ColumnFacts} of a table (or one partition of it)."""
    declared = set(categorical)
    return {name: column_facts(table[name], name in declared) for name in features}


def merge_table_facts(a: dict, b: dict) -> dict:
    out = {}
    for name in a:
        try:
            out[name] = merge_facts(a[name], b[name])
        except DataError as e:
            raise DataError(f"column {name!r}: {e}") from None
    return out


@dataclass
class Decision:
    """What the contract does to one feature column, decided once from its facts and applied to every part."""

    kind: str  # numerical | categorical
    how: str  # keep | text | finite (non-finite values to missing) | numbers (text read as numbers)
    reading: NumberReading | None = None


def decide_features(facts: dict[str, ColumnFacts], data: dict[str, Any]) -> tuple[dict[str, Decision], dict]:
    """Decide each feature's type and cleaning from its facts (`table_facts`, merged over every partition).

    `data` is the `data` params section (non_finite, coerce_numeric, csv.decimal). Returns {feature: Decision}
    and notes for profile.json. Raises `DataError` with one line naming the column, the problem and the fix.
    """
    decisions: dict[str, Decision] = {}
    notes: dict[str, Any] = {
        "non_finite_to_missing": {},
        "coerced_to_missing": {},
        "text_parsed_as_numbers": [],
        "number_formats": {},
    }
    for name, f in facts.items():
        if f.kind in ("declared", "category"):
            decisions[name] = Decision("categorical", "text")
        elif f.kind == "temporal":
            raise DataError(
                f"column {name!r} holds dates or durations, which are not features; set it as "
                "data.time_column, list it in data.meta_columns or data.drop_columns, or derive "
                "numeric features from it first"
            )
        elif f.kind == "bool":
            decisions[name] = Decision("numerical", "keep")
        elif f.kind == "numeric":
            how = "finite" if _non_finite(name, f.non_finite, f.non_finite_examples, data, notes) else "keep"
            decisions[name] = Decision("numerical", how)
        else:
            assert f.counts is not None  # text columns carry their value counts
            decisions[name] = _text_column(name, f.counts, data, notes)
    for name, d in decisions.items():
        if d.kind == "categorical" and facts[name].token:
            raise DataError(
                f"column {name!r} holds the value {MISSING_TOKEN!r}, which the pipeline reserves for "
                "missing categories; replace it in the file"
            )
    return decisions, {k: v for k, v in notes.items() if v}


def apply_features(table: pd.DataFrame, decisions: dict[str, Decision]) -> pd.DataFrame:
    """The table (a copy) with its feature columns cleaned as decided; the same on the whole table or a partition."""
    table = table.copy()
    for name, d in decisions.items():
        col = table[name]
        if d.how == "text":
            table[name] = as_text(col)
        elif d.how == "finite":
            vals, bad = _bad_floats(col)
            table[name] = vals.mask(bad)
        elif d.how == "numbers":
            text = col[col.notna()].map(str).str.strip()
            text = text[text != ""]
            numbers = pd.Series(np.nan, index=col.index, dtype="float64")
            assert d.reading is not None  # "numbers" is decided with the column's reading
            numbers[text.index] = d.reading.values(text)
            vals, bad = _bad_floats(numbers)
            table[name] = vals.mask(bad)
    return table


def clean_features(
    table: pd.DataFrame, features: list[str], data: dict[str, Any], categorical: list[str] | tuple = ()
) -> tuple[pd.DataFrame, dict[str, str], dict[str, Any]]:
    """Decide each feature's type and clean its values (whole table, before the split): `table_facts`, then
    `decide_features`, then `apply_features` - the out-of-core path (`pipeline.data.partitioned`) runs the
    same three steps with the facts summed over partitions.

    Returns the table (a copy, feature columns cleaned), {feature: "numerical" | "categorical"} and notes for
    profile.json. Raises `DataError` with one line naming the column, the problem and the fix.
    """
    decisions, notes = decide_features(table_facts(table, features, categorical), data)
    return apply_features(table, decisions), {n: d.kind for n, d in decisions.items()}, notes


def _non_finite(name: str, n: int, examples: list, data: dict[str, Any], notes: dict[str, Any]) -> bool:
    """Whether the column's non-finite values become missing (an error with data.non_finite: reject)."""
    if not n:
        return False
    if data["non_finite"] == "reject":
        raise DataError(
            f"column {name!r} has {n} infinite or out-of-range value(s) (e.g. {_examples(examples)}); "
            "fix them in the file, or set data.non_finite: missing to treat them as missing values"
        )
    notes["non_finite_to_missing"][name] = n
    return True


def _text_column(name: str, counts: pd.Series, data: dict[str, Any], notes: dict[str, Any]) -> Decision:
    """Decide a text column from its value counts: numbers (all or, with coerce_numeric, mostly; in one format
    decided from the whole column by `pipeline.data.numbers.decide_numbers`), or categorical."""
    if counts.empty:
        return Decision("categorical", "text")
    csv = data.get("csv") or {}
    decimal, thousands = csv.get("decimal"), csv.get("thousands")
    uniq = pd.Series(counts.index, index=counts.index, dtype=object)
    total = int(counts.sum())
    reading = decide_numbers(counts, name, decimal, thousands, min_share=MOSTLY_NUMERIC)
    if reading is not None:
        parsed = reading.values(uniq)
        ok = (parsed.notna() | uniq.str.lower().isin(("nan",))).to_numpy()
        share = float(counts[ok].sum()) / total
    if reading is not None and share >= MOSTLY_NUMERIC:
        stray = counts[~ok]
        n_stray = int(stray.sum())
        if n_stray and not data["coerce_numeric"]:
            raise DataError(
                f"column {name!r} is numeric but {n_stray} of its {total} values are not numbers "
                f"(e.g. {_examples(stray.index)}); fix them in the file, set data.coerce_numeric: true to treat "
                "them as missing values, or list the column in data.categorical_columns if it is a code"
            )
        if n_stray:
            notes["coerced_to_missing"][name] = {"count": n_stray, "examples": list(stray.index)[:5]}
        else:
            notes["text_parsed_as_numbers"].append(name)
        if not reading.format.is_plain():
            notes["number_formats"][name] = reading.format.describe()
        with np.errstate(invalid="ignore"):
            bad = (~np.isnan(parsed.to_numpy()) & ~(np.abs(parsed.to_numpy()) <= FLOAT32_MAX)) & ok
        _non_finite(name, int(counts[bad].sum()), _distinct(parsed.to_numpy()[bad]), data, notes)
        return Decision("numerical", "numbers", reading)
    if decimal == ".":
        comma = decide_numbers(counts, name, ",", thousands, min_share=MOSTLY_NUMERIC)
        if comma is not None and float(counts[comma.values(uniq).notna().to_numpy()].sum()) / total >= MOSTLY_NUMERIC:
            raise DataError(
                f"column {name!r} holds numbers with decimal commas (e.g. "
                f'{_examples([u for u in counts.index if "," in u])}); set data.csv.decimal: "," '
                "(or null to detect it per column) in params.yaml"
            )
    return Decision("categorical", "text")


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
    return levels_from_counts(train_values.dropna().map(str).value_counts(), name, max_categories)


def levels_from_counts(counts: pd.Series, name: str, max_categories: int | None) -> tuple[list[str], str | None]:
    """`categorical_levels` from the training split's {value: rows} (of the whole split, or summed over its
    partitions)."""
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
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
    ranked = sorted(((str(v), int(c)) for v, c in counts.items()), key=lambda kv: (-kv[1], kv[0]))
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
    out = [leak for f in schema.features if (leak := feature_leak(train[f.name], y, f, threshold))]
    return sorted(out, key=lambda d: -d["auc"])


def feature_leak(col: pd.Series, y: np.ndarray, f: Feature, threshold: float = LEAK_AUC) -> dict[str, Any] | None:
    """`likely_leaks` for one feature: {column, auc, score} when it alone reaches `threshold`, else None (the
    out-of-core path brings the training split back one feature at a time)."""
    if y.min() == y.max():
        return None
    if f.is_categorical:
        key = col.astype(object).where(col.notna(), "\x00missing")
        score = key.map(pd.Series(y, index=key.index).groupby(key).mean()).to_numpy(dtype="float64")
    else:
        vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64")
        if np.isnan(vals).all():
            return None
        lo = np.nanmin(vals)
        score = np.where(np.isnan(vals), lo - 1.0, vals) if np.isfinite(lo) else np.nan_to_num(vals, nan=-np.inf)
    auc = _auc(score, y)
    best = max(auc, 1.0 - auc)
    if best < threshold:
        return None
    direction = (
        "fraud-rate per level"
        if f.is_categorical
        else "higher values mean fraud"
        if auc >= 0.5
        else "lower values mean fraud"
    )
    return {"column": f.name, "auc": round(best, 4), "score": direction}


@dataclass
class TrainFacts:
    """What the schema takes from one feature of the training split; adds up over partitions (`merge_train_facts`)."""

    dtype: str  # bool | int | float | other
    missing: bool = False
    absmax: float = 0.0
    levels: pd.Series | None = None  # categorical: {value as text: rows}


def train_facts(train: pd.DataFrame, kinds: dict[str, str]) -> dict[str, TrainFacts]:
    """{feature: TrainFacts} of the training split (or one partition of it); `kinds` names the features."""
    out = {}
    for name, kind in kinds.items():
        col = train[name]
        if kind == "categorical":
            out[name] = TrainFacts("other", levels=col.dropna().map(str).value_counts(sort=False))
        elif pd.api.types.is_bool_dtype(col):
            out[name] = TrainFacts("bool")
        elif pd.api.types.is_integer_dtype(col):
            missing = bool(col.isna().any())
            absmax = float(col.abs().max()) if len(col) and not missing else 0.0
            out[name] = TrainFacts("int", missing, absmax)
        else:
            out[name] = TrainFacts("float")
    return out


def merge_train_facts(a: dict[str, TrainFacts], b: dict[str, TrainFacts]) -> dict[str, TrainFacts]:
    out = {}
    for name, x in a.items():
        y = b[name]
        levels = None
        if x.levels is not None:
            assert y.levels is not None  # a categorical feature's levels are counted in every part
            levels = add_counts(x.levels, y.levels)
        dtype = x.dtype if x.dtype == y.dtype else "float"
        out[name] = TrainFacts(dtype, x.missing or y.missing, max(x.absmax, y.absmax), levels)
    return out


def schema_from_facts(
    names: list[str],
    facts: dict[str, TrainFacts],
    label: str,
    time: str | None,
    ids: list[str],
    meta: list[str],
    max_categories: int | None,
) -> Schema:
    """The schema from the training split's facts: the one place feature types and levels are decided."""
    renamed = model_names(names)
    features = []
    for name in names:
        f = facts[name]
        if f.levels is not None:
            cats, other = levels_from_counts(f.levels, name, max_categories)
            feature = Feature(name, "categorical", "object", cats, other=other)
        elif f.dtype == "bool" or (f.dtype == "int" and not f.missing and f.absmax < 2**53):
            feature = Feature(name, "numerical", "int64")
        else:
            feature = Feature(name, "numerical", "float64")
        feature.model_name = renamed.get(name)
        features.append(feature)
    return Schema(label=label, time=time, ids=ids, meta=meta, features=features)


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
    names = feature_names(train.columns, label, time, ids, meta)
    kinds = {
        name: (kinds or {}).get(name)
        or (
            "numerical"
            if pd.api.types.is_bool_dtype(train[name]) or pd.api.types.is_numeric_dtype(train[name])
            else "categorical"
        )
        for name in names
    }
    return schema_from_facts(names, train_facts(train, kinds), label, time, ids, meta, max_categories)


def feature_names(columns, label: str, time: str | None, ids: list[str], meta: list[str]) -> list[str]:
    """The feature columns: every column but the label, the time column, ids and meta, in table order."""
    skip = {label, *ids, *meta} | ({time} if time else set())
    return [c for c in columns if c not in skip]
