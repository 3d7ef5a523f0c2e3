"""Fraud segments: groups of test frauds defined by a column's values (`evaluate.segments`).

An entry of `evaluate.segments` is a column name (each of its values among the test frauds is a
segment, e.g. the simulator's `fraud_scenario`) or `{column: name, bins: [edges]}` for a numeric
column (segments `[a, b)` between consecutive edges, `< a` below the first and `>= b` from the last, so
no fraud is left out of every segment). The same labels define the variants of the unseen-variant test.
The column may be a meta column or a feature. Alert thresholds always come from all validation
legitimate rows: a segment only selects which test frauds count for recall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.schema import as_text

#: the segment of rows whose value is missing
MISSING_SEGMENT = "missing"


@dataclass(frozen=True)
class Segment:
    column: str
    value: str
    mask: np.ndarray  # over the test rows

    @property
    def name(self) -> str:
        return f"{self.column}={self.value}"


def _spec(entry: Any) -> tuple[str, list[float] | None]:
    return (entry, None) if isinstance(entry, str) else (entry["column"], list(entry["bins"]))


def segment_columns(specs: list[Any]) -> list[str]:
    """The columns a list of segment entries reads."""
    return [_spec(entry)[0] for entry in specs]


def value_labels(frame: pd.DataFrame, entry: Any) -> pd.Series:
    """Each row's segment label under `entry` (a column name, or {column, bins}): the column's value as text, or
    for bins `[a, b)`, with `< a` below the first edge and `>= b` from the last one, so that no row falls outside
    every segment; `missing` for a missing value."""
    column, bins = _spec(entry)
    col = frame[column]
    if bins is None:
        return as_text(col).map(lambda v: MISSING_SEGMENT if v is None else v).astype(object)
    x = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64")
    out = np.full(len(frame), MISSING_SEGMENT, dtype=object)
    out[x < bins[0]] = f"< {bins[0]:g}"
    out[x >= bins[-1]] = f">= {bins[-1]:g}"
    for lo, hi in zip(bins[:-1], bins[1:]):
        out[(x >= lo) & (x < hi)] = f"[{lo:g}, {hi:g})"
    return pd.Series(out, index=frame.index, dtype=object)


def label_order(entry: Any, labels: set[str]) -> list[str]:
    """`labels` in reading order: text values sorted; bins from the lowest up, then `missing`."""
    _, bins = _spec(entry)
    if bins is None:
        return sorted(labels)
    order = [f"< {bins[0]:g}"] + [f"[{lo:g}, {hi:g})" for lo, hi in zip(bins[:-1], bins[1:])]
    order += [f">= {bins[-1]:g}", MISSING_SEGMENT]
    return [v for v in order if v in labels]


def check_column(frame: pd.DataFrame, entry: Any, setting: str) -> str:
    """The column `entry` names, or one line saying the prepared data lacks it."""
    column, _ = _spec(entry)
    if column not in frame.columns:
        raise DataError(
            f"{setting} names column {column!r}, which the prepared data lacks; list a meta "
            "column (data.meta_columns) or a feature column"
        )
    return column


def fraud_segments(test: pd.DataFrame, specs: list[Any], label: str) -> list[Segment]:
    """The segments of `test` named by `specs` (one per value present among its frauds), in a stable order."""
    out: list[Segment] = []
    fraud = test[label].to_numpy() == 1
    for entry in specs:
        column = check_column(test, entry, "evaluate.segments")
        values = value_labels(test, entry)
        for v in label_order(entry, set(values[fraud])):
            out.append(Segment(column, v, (values == v).to_numpy()))
    return out
