"""Where the raw table comes from: the built-in simulator, a CSV file or a Parquet file.

`load_source(params, root)` returns a `Source`: the raw table with its label normalised to
0/1 and the column roles the params declare. Every problem with the table is a `DataError`
with a one-line message naming the problem and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import DataError

POSITIVE = {"1", "1.0", "true", "t", "yes", "y", "fraud", "fraudulent"}
NEGATIVE = {"0", "0.0", "false", "f", "no", "n", "legit", "legitimate", "genuine", "normal"}


@dataclass
class Source:
    table: pd.DataFrame
    label: str
    time: str | None
    ids: list[str] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)
    description: str = ""


def load_source(params: dict[str, Any], root: str | Path = ".") -> Source:
    d = params["data"]
    if d["source"] == "simulated":
        from pipeline.data.features import add_transaction_features
        from pipeline.data.simulate import simulate_transactions

        raw = simulate_transactions(**d["simulate"])
        table = add_transaction_features(raw, windows=tuple(d["features"]["windows"]),
                                         delay_days=d["features"]["delay_days"])
        sim = d["simulate"]
        desc = (f"simulated: {sim['n_customers']} customers, {sim['n_terminals']} terminals, "
                f"days {sim['day_offset']}..{sim['day_offset'] + sim['n_days'] - 1} from {sim['start_date']}, seed {sim['seed']}")
    else:
        path = Path(d["path"])
        if not path.is_absolute():
            path = Path(root) / path
        table = read_table(path, d["source"])
        desc = f"{d['source']}: {path.name}"
    return apply_roles(table, label=d["label"], time=d["time_column"], ids=d["id_columns"],
                       drop=d["drop_columns"], meta=d["meta_columns"], description=desc)


def read_table(path: Path, kind: str) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"data file {path} not found; set data.path in params.yaml to an existing {kind} file")
    if path.is_dir():
        raise DataError(f"data.path {path} is a folder; point it at a {kind} file")
    try:
        if kind == "csv":
            with open(path, "rb") as fh:
                head = fh.readline()
            if not head.strip():
                raise DataError(f"{path} is empty; provide a CSV with a header row and data rows")
            df = pd.read_csv(path, low_memory=False)
            # pandas renames duplicate headers to X.1; detect them from the raw header line
            header = pd.read_csv(path, nrows=1, header=None, dtype=str).iloc[0].tolist() if len(df.columns) else []
            dupes = sorted({c for c in header if header.count(c) > 1})
            if dupes:
                raise DataError(f"{path} has duplicate column names {dupes}; rename them so each column is unique")
        else:
            df = pd.read_parquet(path)
    except DataError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot read {path} as {kind}: {reason}; check the file format and data.source") from None
    return df


def normalise_labels(values: pd.Series, column: str) -> pd.Series:
    """Map 0/1, true/false, yes/no, Y/N, fraud/legit (any case) to int 0/1; anything else is an error."""
    if values.isna().any():
        n = int(values.isna().sum())
        raise DataError(f"label column {column!r} has {n} missing value(s); fill or drop those rows")
    if pd.api.types.is_bool_dtype(values):
        return values.astype("int64")
    if pd.api.types.is_numeric_dtype(values):
        bad = sorted(set(values.unique()) - {0, 1})
        if bad:
            raise DataError(f"label column {column!r} has values {bad[:5]} besides 0/1; "
                            "labels must be 0/1, true/false, yes/no, Y/N or fraud/legit")
        return values.astype("int64")
    text = values.astype(str).str.strip().str.lower()
    bad = sorted(set(text.unique()) - POSITIVE - NEGATIVE)
    if bad:
        raise DataError(f"label column {column!r} has values {bad[:5]} that are not a fraud flag; "
                        "labels must be 0/1, true/false, yes/no, Y/N or fraud/legit")
    return text.isin(POSITIVE).astype("int64")


def apply_roles(table: pd.DataFrame, label: str, time: str | None = None, ids: list[str] | None = None,
                drop: list[str] | None = None, meta: list[str] | None = None, description: str = "") -> Source:
    ids, drop, meta = list(ids or []), list(drop or []), list(meta or [])
    cols = [str(c) for c in table.columns]
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise DataError(f"table has duplicate column names {dupes}; rename them so each column is unique")
    table = table.copy()
    table.columns = cols
    if table.empty:
        raise DataError("the table has no rows; provide a table with labelled transactions")
    for role, names in (("data.drop_columns", drop), ("data.id_columns", ids), ("data.meta_columns", meta)):
        missing = [c for c in names if c not in table.columns]
        if missing:
            raise DataError(f"{role} names {missing}, which the table lacks; columns are: {', '.join(cols[:20])}"
                            f"{' ...' if len(cols) > 20 else ''}")
    table = table.drop(columns=drop)
    if label not in table.columns:
        raise DataError(f"label column {label!r} not found; set data.label to one of: {', '.join(table.columns[:20])}")
    if label in ids or label in meta:
        raise DataError(f"label column {label!r} is also listed as an id/meta column; remove it from those lists")
    table[label] = normalise_labels(table[label], label)
    n_fraud = int(table[label].sum())
    if n_fraud == 0:
        raise DataError(f"label column {label!r} holds no fraud (no positive label) in {len(table)} rows; "
                        "the pipeline needs labelled frauds")
    if n_fraud == len(table):
        raise DataError(f"every one of the {len(table)} rows is labelled fraud; the pipeline needs legitimate rows too")
    if time is not None:
        if time not in table.columns:
            raise DataError(f"time column {time!r} not found; set data.time_column to an existing column or null")
        table[time] = _check_time(table[time], time)
    features = [c for c in table.columns if c not in {label, time, *ids, *meta}]
    if not features:
        raise DataError("no feature columns left after removing label, time, id, meta and dropped columns")
    return Source(table=table.reset_index(drop=True), label=label, time=time, ids=ids, meta=meta,
                  description=description)


def _check_time(col: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        if col.isna().any():
            raise DataError(f"time column {name!r} has {int(col.isna().sum())} missing value(s); fill or drop them")
        return col
    if pd.api.types.is_numeric_dtype(col):
        vals = col.astype("float64")
        bad = ~np.isfinite(vals.to_numpy())
        if bad.any():
            raise DataError(f"time column {name!r} has {int(bad.sum())} NaN/inf value(s); "
                            "fill or drop them, or set data.time_column: null")
        return col
    parsed = pd.to_datetime(col, errors="coerce")
    if parsed.isna().any():
        raise DataError(f"time column {name!r} has {int(parsed.isna().sum())} value(s) that are neither numbers nor "
                        "dates (or missing); fix them or set data.time_column: null")
    return parsed
