"""Fraud segments: groups of test frauds defined by a column's values (`evaluate.segments`).

An entry of `evaluate.segments` is a column name (each of its values among the test frauds is a
segment, e.g. the simulator's `fraud_scenario`) or `{column: name, bins: [edges]}` for a numeric
column (segments `[a, b)` between consecutive edges; values outside every bin form no segment).
The column may be a meta column or a feature. Alert thresholds always come from all validation
legitimate rows: a segment only selects which test frauds count for recall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.schema import as_text

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


def fraud_segments(test: pd.DataFrame, specs: list[Any], label: str) -> list[Segment]:
    """The segments of `test` named by `specs` (one per value present among its frauds), in a stable order."""
    out: list[Segment] = []
    fraud = test[label].to_numpy() == 1
    for entry in specs:
        column, bins = _spec(entry)
        if column not in test.columns:
            raise DataError(f"evaluate.segments names column {column!r}, which the prepared data lacks; list a meta "
                            "column (data.meta_columns) or a feature column")
        col = test[column]
        if bins is None:
            values = as_text(col).map(lambda v: MISSING_SEGMENT if v is None else v)
            for v in sorted(set(values[fraud])):
                out.append(Segment(column, v, (values == v).to_numpy()))
        else:
            x = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64")
            for lo, hi in zip(bins[:-1], bins[1:]):
                out.append(Segment(column, f"[{lo:g}, {hi:g})", (x >= lo) & (x < hi)))
    return out
