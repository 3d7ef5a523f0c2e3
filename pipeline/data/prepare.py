"""Prepare: load the source, split it, infer the schema from the training split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.data.sources import load_source
from pipeline.data.split import PARTS, profile, split_table
from pipeline.schema import Schema, infer_schema


@dataclass
class Prepared:
    parts: dict[str, pd.DataFrame]
    schema: Schema
    profile: dict[str, Any]


def prepare_data(params: dict[str, Any], root: str | Path = ".") -> Prepared:
    src = load_source(params, root)
    s = params["split"]
    parts = split_table(src.table, src.label, src.time, s["train"], s["gap"], s["valid"], s["test"],
                        s["min_frauds"], s["seed"])
    schema = infer_schema(parts["train"], src.label, src.time, src.ids, src.meta)
    keep = [c for c in (src.time, *src.ids, *src.meta) if c is not None]
    out = {}
    for name in PARTS:
        part = parts[name]
        conformed = schema.conform(part)
        out[name] = pd.concat([part[keep].reset_index(drop=True), conformed.reset_index(drop=True),
                               part[[src.label]].reset_index(drop=True)], axis=1)
    prof = {
        "source": src.description,
        "split": "time-ordered" if src.time else "stratified random",
        "features": len(schema.features),
        "categorical_features": len(schema.categorical),
        "rows_total": int(len(src.table)),
        "frauds_total": int(src.table[src.label].sum()),
        **profile(out, src.label, src.time),
    }
    return Prepared(parts=out, schema=schema, profile=prof)
