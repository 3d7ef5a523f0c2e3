"""Where the raw table comes from: the built-in simulator, a CSV file or a Parquet file.

`load_source(params, root)` returns a `Source`: the raw table with its label normalised to
0/1 and the column roles the params declare. Every problem with the table is a `DataError`
with a one-line message naming the problem and the fix.
"""

from __future__ import annotations

import csv as csv_module
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.data.numbers import merge_plain_facts, plain_facts, plain_numbers, plain_type, read_numbers

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
    categorical: list[str] = field(default_factory=list)  # features declared categorical (data.categorical_columns)
    reading: dict[str, Any] = field(default_factory=dict)  # how the file was read (CSV dialect), for profile.json


def load_source(params: dict[str, Any], root: str | Path = ".") -> Source:
    d = params["data"]
    if d["source"] == "simulated":
        from pipeline.data.features import add_transaction_features
        from pipeline.data.simulate import simulate_transactions

        raw = simulate_transactions(**d["simulate"])
        table = add_transaction_features(
            raw, windows=tuple(d["features"]["windows"]), delay_days=d["features"]["delay_days"]
        )
        sim = d["simulate"]
        desc = (
            f"simulated: {sim['n_customers']} customers, {sim['n_terminals']} terminals, "
            f"days {sim['day_offset']}..{sim['day_offset'] + sim['n_days'] - 1} from {sim['start_date']}, "
            f"seed {sim['seed']}"
        )
    else:
        path = Path(d["path"])
        if not path.is_absolute():
            path = Path(root) / path
        table = read_table(path, d["source"], d.get("csv"))
        desc = f"{d['source']}: {path.name}"
    reading = dict(table.attrs.get("csv", {}))
    src = apply_roles(
        table,
        label=d["label"],
        time=d["time_column"],
        ids=d["id_columns"],
        drop=d["drop_columns"],
        meta=d["meta_columns"],
        description=desc,
        categorical=d["categorical_columns"],
        csv=d.get("csv"),
        dayfirst=d.get("dayfirst"),
    )
    src.reading = reading
    return src


#: file name endings read as parts of a partitioned table, per data.source
PART_SUFFIXES = {"parquet": (".parquet", ".parq", ".pq"), "csv": (".csv", ".txt", ".tsv")}


def input_parts(params: dict[str, Any], root: str | Path = ".") -> list[Path] | None:
    """The files of a table read out of core (`pipeline.data.partitioned`), or None for one file read whole.

    Out of core: `data.path` is a folder (every part file below it, by name) or a glob (`data/raw/tx-*.parquet`),
    or one file larger than `data.out_of_core_above`. The built-in simulator is always read whole."""
    d = params["data"]
    if d["source"] == "simulated":
        return None
    from dask.utils import parse_bytes

    raw = str(d["path"])
    path = Path(raw) if Path(raw).is_absolute() else Path(root) / raw
    kind = d["source"]
    if any(c in raw for c in "*?["):
        files = sorted(p for p in path.parent.glob(path.name) if p.is_file())
        if not files:
            raise DataError(f"data.path {raw!r} matches no file; point it at {kind} files or a folder of them")
        return files
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(PART_SUFFIXES[kind]))
        if not files:
            raise DataError(
                f"data.path {path} is a folder without {kind} files (names ending "
                f"{', '.join(PART_SUFFIXES[kind])}); point it at a {kind} file or a folder of them"
            )
        return files
    if path.is_file() and path.stat().st_size > parse_bytes(d["out_of_core_above"]):
        return [path]
    return None


#: separators tried, in this order, when data.csv.sep is not set
SEPARATORS = (",", ";", "|", "\t")
_SNIFF_BYTES = 1 << 16


def _show_sep(sep: str | None) -> str:
    return "tab" if sep == "\t" else repr(sep)


def read_table(path: Path, kind: str, csv: dict[str, Any] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file. CSV options (`data.csv`): sep (sniffed among SEPARATORS when unset),
    encoding (UTF-8 when unset; a byte-order mark is skipped), decimal."""
    if not path.exists():
        raise DataError(f"data file {path} not found; set data.path in params.yaml to an existing {kind} file")
    if path.is_dir():
        raise DataError(f"data.path {path} is a folder; point it at a {kind} file")
    _not_a_workbook(path, kind)
    if kind == "csv":
        return _read_csv(path, dict(csv or {}))
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise DataError(
            f"cannot read {path} as parquet: {_first_line(e)}; check the file format and data.source"
        ) from None
    if any(n is not None for n in table.index.names):  # a named index (e.g. the time column) is a column
        named = [n for n in table.index.names if n is not None]
        clash = [n for n in named if n in table.columns]
        if clash:
            raise DataError(f"{path} has {clash[0]!r} both as its index and as a column; drop one of them")
        table = table.reset_index(level=named).reset_index(drop=True)
    return table


_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _not_a_workbook(path: Path, kind: str) -> None:
    """An Excel workbook (by name, or a zip/OLE file) is named as one, not diagnosed as an encoding problem."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    suffix = path.suffix.lower()
    if (
        suffix in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
        or head.startswith(_OLE)
        or (head.startswith(_ZIP) and suffix != ".parquet")
    ):
        what = "an Excel workbook" if suffix != ".ods" else "a spreadsheet workbook"
        if head.startswith(_ZIP) and suffix not in (".xlsx", ".xlsm", ".xlsb", ".ods"):
            what = "a ZIP archive (an Excel .xlsx workbook or a zipped file)"
        raise DataError(
            f"{path} is {what}, not a {'CSV' if kind == 'csv' else 'Parquet'} file; export the "
            "sheet as CSV (or Parquet) and point data.path at that file"
        )


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _read_csv(path: Path, opts: dict[str, Any]) -> pd.DataFrame:
    encoding = opts.get("encoding") or "utf-8-sig"
    decimal = opts.get("decimal")
    with open(path, "rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
        complete = not fh.read(1)
    if not raw.strip():
        raise DataError(f"{path} is empty; provide a CSV with a header row and data rows")
    try:
        sample = raw.decode(encoding) if complete else raw.decode(encoding, errors="ignore")
    except UnicodeDecodeError as e:
        raise _encoding_error(path, opts, e) from None
    sep = opts.get("sep")
    sniffed = sep is None
    if sniffed:
        sep = sniff_separator(sample, complete)
    try:
        # every column as text: pandas' own number conversion (decimal=) would read 1,979 as 1.979 before the
        # contract could see it; plain columns are typed below, the rest by the contract from the whole column
        df = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, low_memory=False)
        # pandas renames duplicate headers to X.1; detect them from the raw header line
        header = (
            pd.read_csv(path, sep=sep, encoding=encoding, nrows=1, header=None, dtype=str).iloc[0].tolist()
            if len(df.columns)
            else []
        )
    except UnicodeDecodeError as e:
        raise _encoding_error(path, opts, e) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as e:
        raise DataError(
            f"cannot read {path} as csv with separator {_show_sep(sep)}: {_first_line(e)}; "
            "check the file format, data.source and data.csv.sep"
        ) from None
    dupes = sorted({str(c) for c in header if header.count(c) > 1})
    if dupes:
        raise DataError(f"{path} has duplicate column names {dupes}; rename them so each column is unique")
    if df.shape[1] == 1:
        first = sample.splitlines()[0][:60] if sample.splitlines() else ""
        if sniffed:
            tried = " ".join(_show_sep(c) for c in SEPARATORS)
            raise DataError(
                f"{path} reads as a single column (separators tried: {tried}; header starts "
                f"{first!r}); set data.csv.sep in params.yaml to the file's separator"
            )
        raise DataError(
            f"{path} reads as a single column with data.csv.sep {_show_sep(sep)} (header starts "
            f"{first!r}); set data.csv.sep to the file's separator, or null to detect it"
        )
    df = _typed(df, opts.get("decimal"), opts.get("thousands"))
    df.attrs["csv"] = {
        "sep": sep,
        "sep_detected": sniffed,
        "encoding": encoding,
        "decimal": decimal or "auto",
        "thousands": opts.get("thousands") or "auto",
    }
    return df


_TRUE, _FALSE = {"True", "TRUE", "true"}, {"False", "FALSE", "false"}


def typing_facts(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """{column: facts} of a CSV read as text (the whole file or one partition): what `decide_typing` decides on."""
    out = {}
    for name in df.columns:
        raw = df[name]
        facts = plain_facts(raw)
        facts["bool"] = bool(raw.dropna().isin(_TRUE | _FALSE).all())
        out[name] = facts
    return out


def merge_typing_facts(a: dict[str, dict], b: dict[str, dict]) -> dict[str, dict]:
    return {n: {**merge_plain_facts(a[n], b[n]), "bool": a[n]["bool"] and b[n]["bool"]} for n in a}


def decide_typing(facts: dict[str, dict], decimal: str | None, thousands: str | None) -> dict[str, str]:
    """{column: empty | bool | bool_na | int64 | float64 | text}: a CSV read as text typed the way pandas' reader
    would, but only where no magnitude can change: plain numbers become numbers, true/false columns booleans,
    empty columns float NaN; every other column stays text for the input contract (`pipeline.data.numbers`)."""
    out = {}
    for name, f in facts.items():
        if not f["present"]:
            out[name] = "empty"
        elif f["bool"]:
            out[name] = "bool_na" if f["missing"] else "bool"
        else:
            out[name] = plain_type(f, decimal, thousands) or "text"
    return out


def apply_typing(df: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """The columns typed as decided (the whole file or one partition), built in one go (no fragmented frame)."""
    cols: dict[str, pd.Series] = {}
    for name in df.columns:
        raw, how = df[name], types[name]
        if how == "empty":
            cols[name] = pd.Series(np.nan, index=raw.index, dtype="float64")
        elif how in ("bool", "bool_na"):
            cols[name] = raw.map(lambda v: v in _TRUE if isinstance(v, str) else v)
            if how == "bool":
                cols[name] = cols[name].astype(bool)
        elif how == "text":
            cols[name] = raw
        else:
            cols[name] = plain_numbers(raw, how)
    out = pd.DataFrame(cols, index=df.index)
    out.columns = df.columns
    return out


def _typed(df: pd.DataFrame, decimal: str | None, thousands: str | None) -> pd.DataFrame:
    return apply_typing(df, decide_typing(typing_facts(df), decimal, thousands))


def _encoding_error(path: Path, opts: dict[str, Any], e: UnicodeDecodeError) -> DataError:
    bad = e.object[e.start : e.start + 1].hex() if isinstance(e.object, (bytes, bytearray)) else "?"
    if opts.get("encoding"):
        return DataError(
            f"cannot read {path} as {opts['encoding']} text (byte 0x{bad} at position {e.start}); "
            "set data.csv.encoding to the file's encoding (e.g. latin-1, cp1252, utf-16)"
        )
    return DataError(
        f"cannot read {path}: it is not UTF-8 text (byte 0x{bad} at position {e.start}); set "
        "data.csv.encoding in params.yaml (e.g. latin-1, cp1252, utf-16) or save the file as UTF-8"
    )


def sniff_separator(sample: str, complete: bool = True) -> str:
    """The separator among SEPARATORS that splits the sample's lines into the same number (> 1) of fields
    most consistently (ties: more fields, then the order of SEPARATORS); ',' when none splits the header."""
    lines = sample.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line of a partial read may be cut
    lines = [ln for ln in lines if ln.strip()][:200]
    best, best_key = ",", None
    for i, sep in enumerate(SEPARATORS):
        try:
            counts = [len(r) for r in csv_module.reader(lines, delimiter=sep)]
        except csv_module.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        key = (consistent, counts[0], -i)
        if best_key is None or key > best_key:
            best, best_key = sep, key
    return best


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
            raise DataError(
                f"label column {column!r} has values {bad[:5]} besides 0/1; "
                "labels must be 0/1, true/false, yes/no, Y/N or fraud/legit"
            )
        return values.astype("int64")
    text = values.astype(str).str.strip().str.lower()
    bad = sorted(set(text.unique()) - POSITIVE - NEGATIVE)
    if bad:
        raise DataError(
            f"label column {column!r} has values {bad[:5]} that are not a fraud flag; "
            "labels must be 0/1, true/false, yes/no, Y/N or fraud/legit"
        )
    return text.isin(POSITIVE).astype("int64")


def check_roles(
    label: str, time: str | None, ids: list[str], drop: list[str], meta: list[str], categorical: list[str]
) -> None:
    """Each column has one role: a column named by two of data.label, time_column, id_columns, drop_columns,
    meta_columns and categorical_columns (categorical_columns only with features) is an error naming both."""
    roles: dict[str, list[str]] = {}
    for key, names in (
        ("data.label", [label]),
        ("data.time_column", [time] if time else []),
        ("data.id_columns", ids),
        ("data.drop_columns", drop),
        ("data.meta_columns", meta),
        ("data.categorical_columns", categorical),
    ):
        for name in names:
            roles.setdefault(name, []).append(key)
    for name, keys in roles.items():
        if len(keys) > 1:
            if keys[0] == "data.label":
                raise DataError(
                    f"the label column {name!r} is also listed in {' and '.join(keys[1:])}; the label "
                    f"cannot be dropped or used in another role: remove {name!r} from that list"
                )
            raise DataError(
                f"column {name!r} is listed in both {keys[0]} and {keys[1]}; a column has one role: "
                f"remove it from one of them"
            )


def apply_roles(
    table: pd.DataFrame,
    label: str,
    time: str | None = None,
    ids: list[str] | None = None,
    drop: list[str] | None = None,
    meta: list[str] | None = None,
    description: str = "",
    categorical: list[str] | None = None,
    csv: dict[str, Any] | None = None,
    dayfirst: bool | None = None,
) -> Source:
    ids, drop, meta, categorical = list(ids or []), list(drop or []), list(meta or []), list(categorical or [])
    cols = check_unique_names([str(c) for c in table.columns])
    table = table.copy()
    table.columns = cols
    if table.empty:
        raise DataError("the table has no rows; provide a table with labelled transactions")
    check_role_columns(cols, label, time, ids, drop, meta, categorical)
    table = table.drop(columns=drop)
    check_label_column(label, list(table.columns))
    table[label] = normalise_labels(table[label], label)
    check_label_counts(label, len(table), int(table[label].sum()))
    if time is not None:
        check_time_column(time, list(table.columns))
        table[time] = check_time(table[time], time, csv, dayfirst)
    check_features_left(list(table.columns), label, time, ids, meta)
    return Source(
        table=table.reset_index(drop=True),
        label=label,
        time=time,
        ids=ids,
        meta=meta,
        description=description,
        categorical=categorical,
    )


def check_unique_names(cols: list[str]) -> list[str]:
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise DataError(f"table has duplicate column names {dupes}; rename them so each column is unique")
    return cols


def check_role_columns(
    cols: list[str],
    label: str,
    time: str | None,
    ids: list[str],
    drop: list[str],
    meta: list[str],
    categorical: list[str],
) -> None:
    """One role per column, and every column a role names exists (the label and time column: after the drop)."""
    check_roles(label, time, ids, drop, meta, categorical)
    for role, names in (
        ("data.drop_columns", drop),
        ("data.id_columns", ids),
        ("data.meta_columns", meta),
        ("data.categorical_columns", categorical),
    ):
        missing = [c for c in names if c not in cols]
        if missing:
            raise DataError(
                f"{role} names {missing}, which the table lacks{_near(missing[0], cols, role)}; columns "
                f"are: {_names(cols)}"
            )


def check_label_column(label: str, cols: list[str]) -> None:
    if label not in cols:
        raise DataError(
            f"label column {label!r} not found{_near(label, cols, 'data.label')}; set "
            f"data.label to one of: {_names(cols)}"
        )


def check_label_counts(label: str, n: int, n_fraud: int) -> None:
    """Frauds and legitimate rows both present (`n` rows, `n_fraud` of them labelled fraud)."""
    if n_fraud == 0:
        raise DataError(
            f"label column {label!r} holds no fraud (no positive label) in {n} rows; the pipeline needs labelled frauds"
        )
    if n_fraud == n:
        raise DataError(f"every one of the {n} rows is labelled fraud; the pipeline needs legitimate rows too")


def check_time_column(time: str, cols: list[str]) -> None:
    if time not in cols:
        raise DataError(
            f"time column {time!r} not found{_near(time, cols, 'data.time_column')}; "
            f"set data.time_column to an existing column or null "
            f"(columns: {_names(cols)})"
        )


def check_features_left(cols: list[str], label: str, time: str | None, ids: list[str], meta: list[str]) -> None:
    if not [c for c in cols if c not in {label, time, *ids, *meta}]:
        raise DataError("no feature columns left after removing label, time, id, meta and dropped columns")


_SLASHED = r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?"


def _names(cols: list[str], k: int = 20) -> str:
    """Column names as written (repr: a leading or trailing space shows)."""
    return ", ".join(repr(c) for c in cols[:k]) + (" ..." if len(cols) > k else "")


def _near(name: str, cols: list[str], key: str) -> str:
    """' (the table has ' Class' ...)' when a column differs from `name` only by spaces or case."""
    close = [c for c in cols if c != name and c.strip().casefold() == name.strip().casefold()]
    if not close:
        return ""
    return (
        f" (the table has {close[0]!r}, which differs by spaces or case: set {key} to {close[0]!r} or fix the header)"
    )


def dayfirst_facts(text: pd.Series) -> dict[str, Any]:
    """What `decide_dayfirst` decides a text time column on (the whole column or one partition): whether every
    value is a slashed date, the first value proving day first / month first, the first two distinct values."""
    slashed = text.str.extract(f"^{_SLASHED}$")
    first, second = pd.to_numeric(slashed[0]), pd.to_numeric(slashed[1])
    return {
        "slashed": bool(slashed[0].notna().all()),
        "day_first": next(iter(text[first > 12]), None),
        "month_first": next(iter(text[second > 12]), None),
        "examples": list(text.drop_duplicates().iloc[:2]),
    }


def merge_dayfirst_facts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "slashed": a["slashed"] and b["slashed"],
        "day_first": a["day_first"] if a["day_first"] is not None else b["day_first"],
        "month_first": a["month_first"] if a["month_first"] is not None else b["month_first"],
        "examples": list(dict.fromkeys(a["examples"] + b["examples"]))[:2],
    }


def decide_dayfirst(name: str, facts: dict[str, Any], dayfirst: bool | None) -> bool:
    """dd/mm (True) or mm/dd (False) for a column of slashed dates: a first field above 12 proves day first, a
    second above 12 month first; neither: `data.dayfirst`, or an error asking for it."""
    day_first, month_first = facts["day_first"] is not None, facts["month_first"] is not None
    if day_first and month_first:
        raise DataError(
            f"time column {name!r} mixes day-first and month-first dates (e.g. "
            f"{facts['day_first']!r}, {facts['month_first']!r}); fix the file"
        )
    if not (day_first or month_first):
        if dayfirst is None:
            ex = ", ".join(repr(v) for v in facts["examples"])
            raise DataError(
                f"time column {name!r} has dates such as {ex} that read as day/month or month/day; "
                "set data.dayfirst: true (dd/mm/yyyy) or false (mm/dd/yyyy) in params.yaml"
            )
        return dayfirst
    if dayfirst is not None and dayfirst != day_first:
        ex = facts["day_first"] if day_first else facts["month_first"]
        raise DataError(
            f"time column {name!r} has dates such as {ex!r} that contradict data.dayfirst: "
            f"{str(dayfirst).lower()}; set data.dayfirst to {str(day_first).lower()} or null"
        )
    return day_first


def check_time(col: pd.Series, name: str, csv: dict[str, Any] | None = None, dayfirst: bool | None = None) -> pd.Series:
    """The time column as datetimes or numbers: missing and non-finite values are errors; text is read as
    numbers (any format `pipeline.data.numbers` reads) or as dates: ISO 8601 (a `Z` or offset becomes UTC),
    or dd/mm/yyyy vs mm/dd/yyyy decided from the whole column (a first field above 12 proves day first) or by
    `data.dayfirst`."""
    if pd.api.types.is_datetime64_any_dtype(col):
        if col.isna().any():
            raise DataError(f"time column {name!r} has {int(col.isna().sum())} missing value(s); fill or drop them")
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        return col
    if pd.api.types.is_numeric_dtype(col):
        vals = col.astype("float64")
        bad = ~np.isfinite(vals.to_numpy())
        if bad.any():
            raise DataError(
                f"time column {name!r} has {int(bad.sum())} NaN/inf value(s); "
                "fill or drop them, or set data.time_column: null"
            )
        return col
    if col.isna().any():
        raise DataError(f"time column {name!r} has {int(col.isna().sum())} missing value(s); fill or drop them")
    text = col.astype(str).str.strip()
    csv = csv or {}
    numbers, fmt = read_numbers(text, name, csv.get("decimal"), csv.get("thousands"), min_share=1.0)
    if fmt is not None and numbers.notna().all():
        return check_time(numbers, name)
    if csv.get("decimal") == ".":
        commas, _ = read_numbers(text, name, ",", csv.get("thousands"), min_share=1.0)
        if commas.notna().all():
            raise DataError(
                f"time column {name!r} holds numbers with decimal commas (e.g. {text.iloc[0]!r}); "
                'set data.csv.decimal: "," (or null to detect it) in params.yaml'
            )
    slashed = text.str.extract(f"^{_SLASHED}$")
    if slashed[0].notna().all():
        day_first = decide_dayfirst(name, dayfirst_facts(text), dayfirst)
        day, month = (slashed[0], slashed[1]) if day_first else (slashed[1], slashed[0])
        year = slashed[2].where(slashed[2].str.len() == 4, "20" + slashed[2])
        iso = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + (" " + slashed[3]).fillna("")
        parsed = pd.to_datetime(iso, errors="coerce", format="mixed")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns when it falls back to parsing each value on its own
            parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
        if parsed.notna().any():
            parsed = parsed.dt.tz_localize(None)  # times with a zone (Z, +01:00) as UTC, the rest as written
    if parsed.isna().any():
        unread = text[parsed.isna()]
        raise DataError(
            f"time column {name!r} has {len(unread)} value(s) that are neither numbers nor dates (e.g. "
            f"{', '.join(repr(v[:30]) for v in unread.drop_duplicates().iloc[:3])}); fix them or set "
            "data.time_column: null"
        )
    return parsed
