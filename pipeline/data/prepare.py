"""Prepare: load the source, enforce the input contract, split, take the schema from the training split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.schema import Feature, Schema
from pipeline.data.contract import LEAK_AUC, clean_features, infer_schema, likely_leaks
from pipeline.data.sources import load_source
from pipeline.data.split import PARTS, profile, split_table


@dataclass
class Prepared:
    parts: dict[str, pd.DataFrame]
    schema: Schema
    profile: dict[str, Any]


def prepare_data(params: dict[str, Any], root: str | Path = ".") -> Prepared:
    src = load_source(params, root)
    d = params["data"]
    roles = {src.label, *src.ids, *src.meta} | ({src.time} if src.time else set())
    features = [c for c in src.table.columns if c not in roles]
    table, kinds, notes = clean_features(src.table, features, d, src.categorical)
    s = params["split"]
    parts = split_table(
        table, src.label, src.time, s["train"], s["gap"], s["valid"], s["test"], s["min_frauds"], s["seed"]
    )
    schema = infer_schema(
        parts["train"], src.label, src.time, src.ids, src.meta, kinds=kinds, max_categories=d["max_categories"]
    )
    keep = [c for c in (src.time, *src.ids, *src.meta) if c is not None]
    out = {name: prepared_rows(parts[name], schema, keep, src.label) for name in PARTS}
    leaks = likely_leaks(out["train"], schema, src.label)
    if leaks:
        notes["likely_leaks"] = leaks
    grouped = {
        f.name: grouped_note(f, int(parts["train"][f.name].dropna().map(str).nunique()))
        for f in schema.features
        if f.other is not None
    }
    if grouped:
        notes["grouped_categories"] = grouped
    renamed = {f.name: f.model_name for f in schema.features if f.model_name}
    if renamed:
        notes["model_names"] = renamed
    if src.reading:
        notes["csv"] = src.reading
    prof = {
        "source": src.description,
        "split": "time-ordered" if src.time else "stratified random",
        "features": len(schema.features),
        "categorical_features": len(schema.categorical),
        "rows_total": int(len(src.table)),
        "frauds_total": int(src.table[src.label].sum()),
        **profile(out, src.label, src.time),
    }
    if notes:
        prof["input_contract"] = notes
    return Prepared(parts=out, schema=schema, profile=prof)


def prepared_rows(part: pd.DataFrame, schema: Schema, keep: list[str], label: str) -> pd.DataFrame:
    """A split's prepared rows: the kept columns (time, ids, meta), the features conformed to the schema, the
    label; the same for a whole split or one partition of it."""
    return pd.concat(
        [
            part[keep].reset_index(drop=True),
            schema.conform(part).reset_index(drop=True),
            part[[label]].reset_index(drop=True),
        ],
        axis=1,
    )


def grouped_note(f: Feature, levels_in_train: int) -> dict[str, Any] | None:
    """profile.json's note on a categorical whose rare training values were grouped (data.max_categories)."""
    if f.other is None:
        return None
    return {"levels_in_train": levels_in_train, "kept": len(f.categories or []) - 1, "other": f.other}


def contract_lines(notes: dict[str, Any]) -> list[str]:
    """One plain line per thing the input contract changed or decided (printed by the prepare stage)."""
    lines = []
    csv = notes.get("csv")
    if csv and csv.get("sep_detected") and csv.get("sep") != ",":
        sep = "tab" if csv["sep"] == "\t" else repr(csv["sep"])
        lines.append(f"read as CSV with separator {sep} (detected; set data.csv.sep to fix it)")
    for col, n in notes.get("non_finite_to_missing", {}).items():
        lines.append(f"column {col!r}: {n} infinite or out-of-range value(s) treated as missing (data.non_finite)")
    for col, info in notes.get("coerced_to_missing", {}).items():
        lines.append(f"column {col!r}: {info['count']} non-numeric value(s) treated as missing (data.coerce_numeric)")
    for col in notes.get("text_parsed_as_numbers", []):
        lines.append(f"column {col!r}: text holding only numbers, used as a numerical feature")
    for col, info in notes.get("grouped_categories", {}).items():
        lines.append(
            f"column {col!r}: {info['levels_in_train']} values; the {info['kept']} most frequent kept, "
            f"the rest grouped as {info['other']!r} (data.max_categories)"
        )
    for col, info in notes.get("number_formats", {}).items():
        lines.append(
            f"column {col!r}: numbers read as "
            + ", ".join(f"{k} {v!r}" for k, v in info.items())
            + " (decided from the whole column; data.csv.decimal / data.csv.thousands)"
        )
    for leak in notes.get("likely_leaks", []):
        lines.append(
            f"WARNING column {leak['column']!r} on its own separates fraud from legitimate training rows "
            f"almost perfectly (AUC {leak['auc']:.3f} >= {LEAK_AUC}): likely a leak, a label proxy such as a "
            "chargeback flag known only after the fact; list it in data.drop_columns unless it is known "
            "when a transaction is scored"
        )
    for col, name in notes.get("model_names", {}).items():
        lines.append(
            f"column {col!r} is called {name!r} inside XGBoost (which rejects [, ] and <); reports use your name"
        )
    return lines
