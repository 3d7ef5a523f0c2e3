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

from pipeline.errors import DataError

PARTS = ("train", "valid", "test")


def split_table(table: pd.DataFrame, label: str, time: str | None, train: float, gap: float, valid: float,
                test: float, min_frauds: int, seed: int = 0) -> dict[str, pd.DataFrame]:
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
                f"{min_frauds}; provide more data, enlarge split.{name}, or lower split.min_frauds")
        if n_fraud == len(part):
            raise DataError(f"the {name} split holds only fraud rows; provide more legitimate rows")
    return parts


def _time_split(table: pd.DataFrame, time: str, train: float, gap: float, valid: float,
                test: float) -> dict[str, pd.DataFrame]:
    order = np.argsort(table[time].to_numpy(), kind="stable")
    t_sorted = table[time].to_numpy()[order]
    n = len(table)
    bounds = np.cumsum([train, gap, valid, test])
    idx = np.minimum((bounds * n).round().astype(int), n)
    cut = [t_sorted[i] if i < n else None for i in idx]

    t = table[time].to_numpy()

    def before(c):
        return np.ones(n, bool) if c is None else t < c

    m_train = before(cut[0])
    m_valid = ~before(cut[1]) & before(cut[2])
    m_test = ~before(cut[2]) & before(cut[3])
    out = {}
    for name, m in (("train", m_train), ("valid", m_valid), ("test", m_test)):
        out[name] = table.loc[m].sort_values(time, kind="stable").reset_index(drop=True)
    return out


def _stratified_split(table: pd.DataFrame, label: str, train: float, valid: float, test: float,
                      seed: int) -> dict[str, pd.DataFrame]:
    """Within each class, rows are ordered by a seeded hash of their content and cut at the requested
    fractions (exactly stratified).

    Ordering by a content hash instead of a shuffle keeps the assignment nearly stable when the table
    grows: a row keeps its part on a later retrain unless it sits right at a cut, so new test rows
    hardly ever include rows an earlier model was trained on; identical rows land side by side.
    """
    total = train + valid + test
    edges = np.cumsum([train, valid]) / total
    key = f"{seed:016d}"[-16:]
    h = pd.util.hash_pandas_object(table.drop(columns=[label]).astype(str), index=False, hash_key=key)
    u = (h.to_numpy(dtype=np.uint64) >> np.uint64(11)).astype(np.float64) / float(2**53)
    assign = np.empty(len(table), dtype=np.int8)
    y = table[label].to_numpy()
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        ranked = idx[np.argsort(u[idx], kind="stable")]
        cut = np.round(edges * len(idx)).astype(int)
        assign[ranked[: cut[0]]] = 0
        assign[ranked[cut[0]: cut[1]]] = 1
        assign[ranked[cut[1]:]] = 2
    return {name: table.loc[assign == i].reset_index(drop=True) for i, name in enumerate(PARTS)}


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
