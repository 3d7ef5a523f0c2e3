"""Prepare out of core: the same prepare as `pipeline.data.prepare`, on `dask.dataframe`, for tables no process
holds whole (`data.path` a folder or glob of Parquet or CSV parts, or one file above `data.out_of_core_above`).

Every decision is the pandas path's own function, fed by aggregates that add up over partitions:

* CSV typing (`sources.typing_facts` -> `decide_typing`), the time column's day/month order
  (`sources.dayfirst_facts` -> `decide_dayfirst`), the label's counts (`sources.check_label_counts`);
* the input contract (`contract.table_facts` -> `decide_features`: kinds, non-finite counts, the value counts
  of text columns that number formats and stray strings are decided on, the reserved missing token);
* the schema (`contract.train_facts` -> `schema_from_facts`: dtypes, missing values, magnitudes, the training
  split's category counts), and the likely leaks (`contract.feature_leak`, one training column at a time).

Each decision is taken once, before anything is written, and applied per partition (`apply_typing`,
`check_time`, `apply_features`, `prepare.prepared_rows`). The time-ordered split cuts at the same rows as
`split._time_split`: each cut is the change of timestamp nearest the requested share, found from approximate
quantiles of the time column and then exactly, from the counts of the distinct timestamps in a window around
them. Without a time column the split is the pandas path's seeded row hash (`split.row_hash`), cut per class
at the same ranks. Rows within a split keep the input's order (the pandas path sorts them by time); rows that
are exact duplicates of each other and straddle a stratified cut may fall on the other side of it.

What is held in memory: one partition per task, the facts (a text column's distinct values with their
counts), and in the leak check one training column with the label.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.data.contract import (
    LEAK_AUC,
    apply_features,
    decide_features,
    feature_leak,
    feature_names,
    merge_table_facts,
    merge_train_facts,
    schema_from_facts,
    table_facts,
    train_facts,
)
from pipeline.data.prepare import grouped_note, prepared_rows
from pipeline.data.sources import (
    SEPARATORS,
    _show_sep,
    apply_typing,
    check_features_left,
    check_label_column,
    check_label_counts,
    check_role_columns,
    check_time,
    check_time_column,
    check_unique_names,
    dayfirst_facts,
    decide_dayfirst,
    decide_typing,
    merge_dayfirst_facts,
    merge_typing_facts,
    normalise_labels,
    sniff_separator,
    typing_facts,
)
from pipeline.data.split import PARTS, SHARE_TOLERANCE, row_hash

#: rows of a CSV block read as one partition (bytes)
CSV_BLOCK = "64MiB"
#: first half-width (in quantiles) of the window searched for a cut's exact row; widened 8-fold until it holds it
_WINDOW = 0.002


def _facts(ddf, fn, merge, *args) -> Any:
    """`fn(partition, *args)` on every partition, merged in partition order (one small object comes back)."""
    import dask

    parts = [dask.delayed(fn)(p, *args) for p in ddf.to_delayed()]
    while len(parts) > 1:  # a tree: pairs of neighbours, so the order of the partitions is kept
        parts = [
            dask.delayed(merge)(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0].compute()


class OutOfCore:
    """The out-of-core prepare of one table: decisions from aggregates (`decide`), then the splits as lazy Dask
    DataFrames (`splits`), then the profile with the leak check from the written training split (`profile`)."""

    def __init__(self, params: dict[str, Any], files: list[Path]):
        self.params, self.files = params, files
        d = params["data"]
        self.kind = d["source"]
        self.label, self.time = d["label"], d["time_column"]
        self.ids, self.meta = list(d["id_columns"]), list(d["meta_columns"])
        self.drop, self.categorical = list(d["drop_columns"]), list(d["categorical_columns"])
        self.reading: dict[str, Any] = {}
        self.types: dict[str, str] | None = None
        self.dayfirst: bool | None = d["dayfirst"]

    # -- reading -------------------------------------------------------------------------------------------
    def _read(self):
        import dask.dataframe as dd

        files = [str(f) for f in self.files]
        if self.kind == "parquet":
            try:
                return dd.read_parquet(files, index=False)
            except (OSError, ValueError) as e:
                raise DataError(f"cannot read {self.files[0].parent} as parquet parts: {_first(e)}") from None
        opts = dict(self.params["data"].get("csv") or {})
        encoding = opts.get("encoding") or "utf-8-sig"
        sep = opts.get("sep")
        if sep is None:
            with open(self.files[0], "rb") as fh:
                sample = fh.read(1 << 16).decode(encoding, errors="ignore")
            sep = sniff_separator(sample, complete=False)
            self.reading = {"sep": sep, "sep_detected": True}
        else:
            self.reading = {"sep": sep, "sep_detected": False}
        self.reading.update(
            encoding=encoding, decimal=opts.get("decimal") or "auto", thousands=opts.get("thousands") or "auto"
        )
        try:
            ddf = dd.read_csv(files, sep=sep, encoding=encoding, dtype=str, blocksize=CSV_BLOCK)
        except (OSError, ValueError, pd.errors.ParserError) as e:
            raise DataError(
                f"cannot read {self.files[0]} as csv with separator {_show_sep(sep)}: {_first(e)}; check the "
                "file format, data.source and data.csv.sep"
            ) from None
        if len(ddf.columns) == 1:
            tried = " ".join(_show_sep(c) for c in SEPARATORS)
            raise DataError(
                f"{self.files[0]} reads as a single column (separators tried: {tried}); set data.csv.sep in "
                "params.yaml to the files' separator"
            )
        return ddf

    def raw(self):
        """The table with its columns typed (CSV: as decided for the whole table) and the roles applied."""
        ddf = self._read()
        if self.kind == "csv":
            if self.types is None:
                csv = self.params["data"].get("csv") or {}
                facts = _facts(ddf, typing_facts, merge_typing_facts)
                self.types = decide_typing(facts, csv.get("decimal"), csv.get("thousands"))
            meta = apply_typing(ddf._meta, self.types)
            meta = meta.astype({c: t for c, t in self.types.items() if t in ("int64", "float64", "bool")})
            ddf = ddf.map_partitions(apply_typing, self.types, meta=meta)
        return ddf

    # -- decisions -----------------------------------------------------------------------------------------
    def decide(self) -> None:
        """Every decision, from aggregates over all partitions; raises `DataError` before anything is written."""
        ddf = self.raw()
        cols = check_unique_names([str(c) for c in ddf.columns])
        check_role_columns(cols, self.label, self.time, self.ids, self.drop, self.meta, self.categorical)
        cols = [c for c in cols if c not in self.drop]
        check_label_column(self.label, cols)
        if self.time is not None:
            check_time_column(self.time, cols)
        check_features_left(cols, self.label, self.time, self.ids, self.meta)
        self.columns = cols
        self.features = feature_names(cols, self.label, self.time, self.ids, self.meta)
        d = self.params["data"]
        if self.time is not None and not _plain_time(ddf._meta[self.time]):
            facts = _facts(ddf[[self.time]], _dayfirst_part, merge_dayfirst_facts, self.time)
            if facts["slashed"]:
                self.dayfirst = decide_dayfirst(self.time, facts, d["dayfirst"])
        counts, contract = _facts(ddf, _contract_part, _merge_contract, self._roles(), self.features, self.categorical)
        self.n_rows, self.n_fraud = counts
        if self.n_rows == 0:
            raise DataError("the table has no rows; provide a table with labelled transactions")
        check_label_counts(self.label, self.n_rows, self.n_fraud)
        self.decisions, self.notes = decide_features(contract, d)
        self.kinds = {n: dec.kind for n, dec in self.decisions.items()}
        self.cuts = self._cuts()
        split_counts, facts = _facts(self.cleaned(), _split_part, _merge_split, self._assign_args(), self.kinds)
        self.split_counts = split_counts
        _check_split_counts(split_counts, self.params["split"]["min_frauds"])
        self.schema = schema_from_facts(
            self.features, facts, self.label, self.time, self.ids, self.meta, d["max_categories"]
        )
        grouped = {
            f.name: grouped_note(f, int((facts[f.name].levels > 0).sum()))
            for f in self.schema.features
            if f.other is not None
        }
        if grouped:
            self.notes["grouped_categories"] = grouped
        renamed = {f.name: f.model_name for f in self.schema.features if f.model_name}
        if renamed:
            self.notes["model_names"] = renamed
        if self.reading:
            self.notes["csv"] = self.reading

    def _roles(self) -> dict[str, Any]:
        csv = self.params["data"].get("csv")
        return {"label": self.label, "time": self.time, "drop": self.drop, "csv": csv, "dayfirst": self.dayfirst}

    def cleaned(self):
        """The table with roles applied and the contract's decisions applied, per partition. The column types
        (Dask's meta) come from the first rows (the functions refuse the empty text Dask would try them on)."""
        ddf = self.raw()
        if getattr(self, "_head", None) is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a first partition of fewer rows is fine
                self._head = _roles_part(ddf.head(1000, npartitions=1), self._roles())
        meta = self._head.iloc[:0]
        ddf = ddf.map_partitions(_roles_part, self._roles(), meta=meta)
        return ddf.map_partitions(
            apply_features, self.decisions, meta=apply_features(self._head, self.decisions).iloc[:0]
        )

    # -- the split -----------------------------------------------------------------------------------------
    def _assign_args(self) -> dict[str, Any]:
        return {"label": self.label, "time": self.time, "cuts": self.cuts, "seed": self.params["split"]["seed"]}

    def _cuts(self) -> dict[str, Any]:
        """Where the split cuts: time values (time-ordered) or hash values per class (stratified)."""
        s = self.params["split"]
        if self.time is not None:
            shares = [s["train"], s["gap"], s["valid"], s["test"]]
            wanted = list(np.cumsum(shares) * self.n_rows)
            # only the time column is read and parsed for the cuts (the other columns are projected away)
            self.cleaned()  # the first rows, for the column types
            times = self.raw()[[self.time]]
            meta = _time_key(self._head, self.time).iloc[:0]
            key = times.map_partitions(_time_key_raw, self._roles(), meta=meta)
            cuts, positions = _nearest_cuts(key, wanted, self.n_rows)
            _check_shares(positions, shares, self.n_rows, self.time, key)
            return {"time": cuts}
        total = s["train"] + s["valid"] + s["test"]
        edges = np.cumsum([s["train"], s["valid"]]) / total
        out = {}
        hashed = self.cleaned().map_partitions(
            _hash_part, self.label, s["seed"], meta=pd.DataFrame({"u": pd.Series(dtype="float64"), "y": 0})
        )
        for cls, n_cls in ((0, self.n_rows - self.n_fraud), (1, self.n_fraud)):
            ranks = list(np.round(edges * n_cls).astype(int))
            key = hashed[hashed["y"] == cls]["u"]
            out[cls], _ = _nearest_cuts(key, [float(r) for r in ranks], n_cls)
        return {"hash": out}

    def splits(self) -> dict[str, Any]:
        """{train, valid, test}: lazy Dask DataFrames of prepared rows (the pandas path's columns and dtypes)."""
        ddf = self.cleaned()
        keep = [c for c in (self.time, *self.ids, *self.meta) if c is not None]
        head = apply_features(self._head, self.decisions)
        meta = prepared_rows(head, self.schema, keep, self.label).iloc[:0]
        out = {}
        for name in PARTS:
            part = ddf.map_partitions(_select_part, name, self._assign_args(), meta=ddf._meta)
            out[name] = part.map_partitions(prepared_rows, self.schema, keep, self.label, meta=meta)
        return out

    def profile(self, split_paths: dict[str, Path], source: str) -> dict[str, Any]:
        """profile.json as the pandas path writes it; the leak check reads the written training split."""
        import dask.dataframe as dd

        notes = dict(self.notes)
        train = dd.read_parquet(str(split_paths["train"]), index=False)
        leaks = []
        for f in self.schema.features:
            both = train[[f.name, self.label]].compute()
            leak = feature_leak(both[f.name], both[self.label].to_numpy().astype(int), f, LEAK_AUC)
            if leak:
                leaks.append(leak)
        if leaks:
            notes["likely_leaks"] = sorted(leaks, key=lambda d: -d["auc"])
        prof = {
            "source": source,
            "split": "time-ordered" if self.time else "stratified random",
            "features": len(self.schema.features),
            "categorical_features": len(self.schema.categorical),
            "rows_total": self.n_rows,
            "frauds_total": self.n_fraud,
        }
        for name in PARTS:
            c = self.split_counts[name]
            entry: dict[str, Any] = {
                "rows": c["rows"],
                "frauds": c["frauds"],
                "fraud_rate": round(c["frauds"] / c["rows"], 6) if c["rows"] else None,
            }
            if self.time is not None and c["rows"]:
                entry["time_from"], entry["time_to"] = str(c["lo"]), str(c["hi"])
            prof[name] = entry
        if notes:
            prof["input_contract"] = notes
        return prof


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _plain_time(col: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_numeric_dtype(col)


def _dayfirst_part(part: pd.DataFrame, time: str) -> dict[str, Any]:
    col = part[time]
    text = col[col.notna()].astype(str).str.strip()
    return dayfirst_facts(text)


def _roles_part(part: pd.DataFrame, roles: dict[str, Any]) -> pd.DataFrame:
    """One partition with the roles applied as `sources.apply_roles` applies them: columns dropped, the label as
    0/1, the time column checked and parsed (with the day/month order decided for the whole column)."""
    part = part.drop(columns=roles["drop"])
    part[roles["label"]] = normalise_labels(part[roles["label"]], roles["label"])
    if roles["time"] is not None:
        part[roles["time"]] = check_time(part[roles["time"]], roles["time"], roles["csv"], roles["dayfirst"])
    return part


def _contract_part(part: pd.DataFrame, roles: dict[str, Any], features: list[str], categorical: list[str]):
    part = _roles_part(part, roles)
    return (len(part), int(part[roles["label"]].sum())), table_facts(part, features, categorical)


def _merge_contract(a, b):
    (n1, f1), c1 = a
    (n2, f2), c2 = b
    return (n1 + n2, f1 + f2), merge_table_facts(c1, c2)


def _time_key(part: pd.DataFrame, time: str) -> pd.Series:
    """The time column as numbers that order like it: datetimes as int64 nanoseconds."""
    col = part[time]
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.astype("int64")
    return col.astype("float64")


def _time_key_raw(part: pd.DataFrame, roles: dict[str, Any]) -> pd.Series:
    """`_time_key` of a raw partition's time column, parsed as `_roles_part` parses it."""
    col = check_time(part[roles["time"]], roles["time"], roles["csv"], roles["dayfirst"])
    return _time_key(col.to_frame(roles["time"]), roles["time"])


def _hash_part(part: pd.DataFrame, label: str, seed: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"u": row_hash(part, label, seed), "y": part[label].to_numpy().astype("int64")}, index=part.index
    )


def _before(key: np.ndarray, cut: tuple) -> np.ndarray:
    """Rows before a cut: (value, strict) -> key < value (strict) or key <= value."""
    value, strict = cut
    if value is None:  # before every row
        return np.zeros(len(key), dtype=bool)
    return key < value if strict else key <= value


def _assign(part: pd.DataFrame, args: dict[str, Any]) -> np.ndarray:
    """The split of each row: 0 train, 1 valid, 2 test, -1 neither (the gap, or past the last share)."""
    out = np.full(len(part), -1, dtype=np.int8)
    if args["time"] is not None:
        key = _time_key(part, args["time"]).to_numpy()
        c = [_before(key, cut) for cut in args["cuts"]["time"]]
        out[c[0]] = 0
        out[~c[1] & c[2]] = 1
        out[~c[2] & c[3]] = 2
        return out
    u = row_hash(part, args["label"], args["seed"])
    y = part[args["label"]].to_numpy()
    for cls in (0, 1):
        cuts = args["cuts"]["hash"][cls]
        first, second = _before(u, cuts[0]), _before(u, cuts[1])
        mine = y == cls
        out[mine & first] = 0
        out[mine & ~first & second] = 1
        out[mine & ~second] = 2
    return out


def _select_part(part: pd.DataFrame, name: str, args: dict[str, Any]) -> pd.DataFrame:
    return part.loc[_assign(part, args) == PARTS.index(name)]


def _split_part(part: pd.DataFrame, args: dict[str, Any], kinds: dict[str, str]):
    """Rows, frauds and time range per split, and the training rows' schema facts, of one partition."""
    where = _assign(part, args)
    label, time = args["label"], args["time"]
    counts = {}
    for i, name in enumerate(PARTS):
        rows = part.loc[where == i]
        c = {"rows": len(rows), "frauds": int(rows[label].sum()), "lo": None, "hi": None}
        if time is not None and len(rows):
            c["lo"], c["hi"] = rows[time].min(), rows[time].max()
        counts[name] = c
    return counts, train_facts(part.loc[where == 0], kinds)


def _merge_split(a, b):
    ca, fa = a
    cb, fb = b
    counts = {}
    for name in PARTS:
        x, y = ca[name], cb[name]
        lo = [v for v in (x["lo"], y["lo"]) if v is not None]
        hi = [v for v in (x["hi"], y["hi"]) if v is not None]
        counts[name] = {
            "rows": x["rows"] + y["rows"],
            "frauds": x["frauds"] + y["frauds"],
            "lo": min(lo) if lo else None,
            "hi": max(hi) if hi else None,
        }
    return counts, merge_train_facts(fa, fb)


def _check_split_counts(counts: dict[str, dict], min_frauds: int) -> None:
    """`split.split_table`'s checks on the counts of each split."""
    for name in PARTS:
        n, n_fraud = counts[name]["rows"], counts[name]["frauds"]
        if n_fraud < min_frauds:
            raise DataError(
                f"the {name} split holds {n_fraud} fraud(s) in {n} rows, fewer than split.min_frauds="
                f"{min_frauds}; provide more data, enlarge split.{name}, or lower split.min_frauds"
            )
        if n_fraud == n:
            raise DataError(f"the {name} split holds only fraud rows; provide more legitimate rows")


def _nearest_cuts(key, wanted: list[float], n: int) -> tuple[list[tuple], list[int]]:
    """For each wanted row count, the change of key value nearest it (ties: the earlier one) as `split._time_split`
    finds it on the sorted column: ((value, strict) cuts for `_before`, their row positions). Approximate
    quantiles give a window around each; the distinct values inside it, counted exactly, give the cut."""
    import dask

    out: list[Any] = [None] * len(wanted)  # a (value, strict) cut per wanted count, once found
    positions = [0] * len(wanted)
    todo = list(range(len(wanted)))
    width = _WINDOW
    integer = pd.api.types.is_integer_dtype(key.dtype)
    while todo:
        if width < 1.0:
            qs = sorted({float(np.clip(wanted[i] / n + d, 0.0, 1.0)) for i in todo for d in (-width, width)})
            bounds = dict(zip(qs, np.asarray(key.quantile(qs).compute(), dtype="float64")))
        else:  # the whole column: the window holds every row
            lo_all, hi_all = dask.compute(key.min(), key.max())
        jobs = []
        for i in todo:
            if width < 1.0:
                lo = bounds[float(np.clip(wanted[i] / n - width, 0.0, 1.0))]
                hi = bounds[float(np.clip(wanted[i] / n + width, 0.0, 1.0))]
            else:
                lo, hi = lo_all, hi_all
            if integer:
                lo, hi = int(np.floor(lo)), int(np.ceil(hi))
            inside = key[(key >= lo) & (key <= hi)]
            jobs.append((i, lo, hi, (key < lo).sum(), inside.value_counts()))
        results = dask.compute(*[(j[3], j[4]) for j in jobs])
        left = []
        for (i, lo, _hi, _, _), (below, counts) in zip(jobs, results):
            below = int(below)
            counts = counts.sort_index()
            ends = below + np.cumsum(counts.to_numpy())
            w = wanted[i]
            if not (below <= w <= (ends[-1] if len(ends) else below)) and width < 1.0:
                left.append(i)
                continue
            candidates = [(below, (lo, True))] + [(int(e), (v, False)) for e, v in zip(ends, counts.index)]
            if below == 0:
                candidates[0] = (0, (None, True))
            pos, cut = min(candidates, key=lambda c: (abs(c[0] - w), c[0]))
            out[i], positions[i] = cut, pos
        todo = left
        width *= 8
    return [(v.item() if hasattr(v, "item") else v, s) for v, s in out], positions


def _check_shares(positions: list[int], shares: list[float], n: int, time: str, key) -> None:
    """`split._time_split`'s check that whole timestamps give the requested shares."""
    starts = [0] + positions[:-1]
    for name, req, a, b in zip(("train", "gap", "valid", "test"), shares, starts, positions):
        size = b - a
        got = size / n
        if (req > 0 and size == 0) or abs(got - req) > SHARE_TOLERANCE:
            counts = key.value_counts().compute()
            raise DataError(
                f"time column {time!r} has {len(counts)} distinct values for {n} rows (e.g. {int(counts.max())} rows "
                f"share one timestamp), so split.{name} = {req:g} can only get {got:.1%} of the rows (rows sharing a "
                "timestamp stay in one part); use a finer time column (date and time), set split shares that fit "
                "whole timestamps, or set data.time_column: null for a stratified random split"
            )


def prepare_out_of_core(params: dict[str, Any], files: list[Path]) -> tuple[OutOfCore, str]:
    """The decisions of an out-of-core prepare (nothing written yet) and the source's description."""
    job = OutOfCore(params, files)
    job.decide()
    root = Path(files[0]).parent if len(files) > 1 else Path(files[0])
    return job, f"{params['data']['source']}: {len(files)} part(s) in {root.name}"
