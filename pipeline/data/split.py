"""Split first, then everything else.

With a time column: time-ordered `train -> gap -> valid -> test`. The gap drops the rows right
after the training period, mimicking the delay before fraud labels are known. Rows that share
a timestamp always land in the same part. Without a time column: a stratified random split
(no gap: without time there is no label delay to mimic).
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
    rng = np.random.default_rng(seed)
    total = train + valid + test
    fractions = np.array([train, valid, test]) / total
    assign = np.empty(len(table), dtype=np.int8)
    y = table[label].to_numpy()
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(len(idx))]
        edges = np.round(np.cumsum(fractions) * len(idx)).astype(int)
        assign[idx[: edges[0]]] = 0
        assign[idx[edges[0]: edges[1]]] = 1
        assign[idx[edges[1]:]] = 2
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
