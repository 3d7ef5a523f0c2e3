"""Split first, then everything else.

With a time column: time-ordered `train -> gap -> valid -> test`. The gap drops the rows right
after the training period, mimicking the delay before fraud labels are known. Rows that share
a timestamp always land in the same part. Without a time column: a stratified random split
(no gap: without time there is no label delay to mimic), assigned by a seeded hash of each
row so that the assignment is stable when the table grows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError

PARTS = ("train", "valid", "test")


def split_table(
    table: pd.DataFrame,
    label: str,
    time: str | None,
    train: float,
    gap: float,
    valid: float,
    test: float,
    min_frauds: int,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    if time is not None:
        parts = _time_split(table, time, train, gap, valid, test)
    else:
        parts = _stratified_split(table, label, train, valid, test, seed)
    for name in PARTS:
        part = parts[name]
        n_fraud = int(part[label].sum())
        if n_fraud < min_frauds:
            raise DataError(
                f"the {name} split holds {n_fraud} fraud(s) in {len(part)} rows, fewer than split.min_frauds="
                f"{min_frauds}; provide more data, enlarge split.{name}, or lower split.min_frauds"
            )
        if n_fraud == len(part):
            raise DataError(f"the {name} split holds only fraud rows; provide more legitimate rows")
    return parts


#: largest difference between a requested share and the one whole timestamps allow before the split stops
SHARE_TOLERANCE = 0.02


def _time_split(
    table: pd.DataFrame, time: str, train: float, gap: float, valid: float, test: float
) -> dict[str, pd.DataFrame]:
    """Cut the time-ordered rows at the requested shares, each cut moved to the nearest change of timestamp
    (rows sharing a timestamp stay in one part). When whole timestamps cannot give the shares - a date-only
    column where one day holds more rows than the gap, say - an error says so instead of a gap of 0 rows or
    shifted shares."""
    t = table[time].to_numpy()
    order = np.argsort(t, kind="stable")
    ts = t[order]
    n = len(table)
    edges = np.r_[0, np.flatnonzero(ts[1:] != ts[:-1]) + 1, n]
    shares = [train, gap, valid, test]
    wanted = np.cumsum(shares) * n
    right = np.clip(np.searchsorted(edges, wanted), 0, len(edges) - 1)
    left = np.clip(right - 1, 0, len(edges) - 1)
    pos = np.where(np.abs(edges[left] - wanted) <= np.abs(edges[right] - wanted), edges[left], edges[right])
    starts = np.r_[0, pos[:-1]]
    sizes = pos - starts
    for name, req, size in zip(("train", "gap", "valid", "test"), shares, sizes):
        got = size / n
        if (req > 0 and size == 0) or abs(got - req) > SHARE_TOLERANCE:
            values, counts = np.unique(ts, return_counts=True)
            top = int(np.argmax(counts))
            raise DataError(
                f"time column {time!r} has {len(values)} distinct values for {n} rows (e.g. {counts[top]} rows share "
                f"{pd.Timestamp(values[top]) if np.issubdtype(ts.dtype, np.datetime64) else values[top]}), so "
                f"split.{name} = {req:g} can only get {got:.1%} of the rows (rows sharing a timestamp stay in one "
                "part); use a finer time column (date and time), set split shares that fit whole timestamps, or "
                "set data.time_column: null for a stratified random split"
            )
    out = {}
    for name, (a, b) in (("train", (0, pos[0])), ("valid", (pos[1], pos[2])), ("test", (pos[2], pos[3]))):
        out[name] = table.iloc[order[a:b]].reset_index(drop=True)
    return out


def _stratified_split(
    table: pd.DataFrame, label: str, train: float, valid: float, test: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Within each class, rows are ordered by a seeded hash of their content and cut at the requested
    fractions (exactly stratified).

    Ordering by a content hash instead of a shuffle keeps the assignment nearly stable when the table
    grows: a row keeps its part on a later retrain unless it sits right at a cut, so new test rows
    hardly ever include rows an earlier model was trained on; identical rows land side by side.
    """
    total = train + valid + test
    edges = np.cumsum([train, valid]) / total
    u = row_hash(table, label, seed)
    assign = np.empty(len(table), dtype=np.int8)
    y = table[label].to_numpy()
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        ranked = idx[np.argsort(u[idx], kind="stable")]
        cut = np.round(edges * len(idx)).astype(int)
        assign[ranked[: cut[0]]] = 0
        assign[ranked[cut[0] : cut[1]]] = 1
        assign[ranked[cut[1] :]] = 2
    return {name: table.loc[assign == i].reset_index(drop=True) for i, name in enumerate(PARTS)}


def row_hash(table: pd.DataFrame, label: str, seed: int) -> np.ndarray:
    """Each row's place in the stratified split: a seeded hash of its content (all but the label) in [0, 1). A
    function of the row alone, so the out-of-core path computes it per partition."""
    key = f"{seed:016d}"[-16:]
    h = pd.util.hash_pandas_object(table.drop(columns=[label]).astype(str), index=False, hash_key=key)
    return (h.to_numpy(dtype=np.uint64) >> np.uint64(11)).astype(np.float64) / float(2**53)


def profile(parts: dict[str, pd.DataFrame], label: str, time: str | None) -> dict[str, Any]:
    """Rows, frauds, fraud rate and time range per split."""
    out: dict[str, Any] = {}
    for name, part in parts.items():
        n, f = len(part), int(part[label].sum())
        entry: dict[str, Any] = {"rows": n, "frauds": f, "fraud_rate": round(f / n, 6) if n else None}
        if time is not None and n:
            lo, hi = part[time].min(), part[time].max()
            entry["time_from"], entry["time_to"] = str(lo), str(hi)
        out[name] = entry
    return out
