"""Stage `scarcity`: the scarcity sweep (`pipeline.experiment.scarcity`) - its cells, then its table, plot and summary.

The cells run in this one process, from the cell cache (data/cache/scarcity) where their inputs are unchanged, so
adding a value to `scarcity.n_frauds`, `repeats` or `generators` runs only the new cells.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.cache import ResultCache
from pipeline.core.compute import open_backend
from pipeline.core.errors import ConfigError
from pipeline.core.files import write_csv, write_json, write_text
from pipeline.core.paths import Paths
from pipeline.core.provenance import file_fingerprint
from pipeline.core.schema import Schema
from pipeline.experiment.compare import headline_name
from pipeline.experiment.metrics import verdict_counts
from pipeline.experiment.scarcity import (
    FAILED,
    SKIPPED,
    SweepGrid,
    exchange_sentence,
    exchange_table,
    run_cells,
    sweep_markdown,
    sweep_table,
)
from pipeline.generators.registry import split_type
from pipeline.reporting.plots import headline_label, plot_exchange, plot_scarcity


def sweep_cells(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    """Every cell of the sweep the params ask for (`pipeline.experiment.scarcity.run_cells`)."""
    sc = params["scarcity"]
    missing = [g for g in sc["generators"] if g not in params["generators"]]
    if missing:
        raise ConfigError(
            f"params.yaml: scarcity.generators names {', '.join(map(repr, missing))}, not configured "
            f"under generators (configured: {', '.join(params['generators'])})"
        )
    generators = {g: split_type(g, params["generators"][g]) for g in sc["generators"]}
    splits = [paths.split(s) for s in ("train", "valid", "test")]
    schema = Schema.load(paths.schema)
    train, valid, test = (pd.read_parquet(f) for f in splits)
    cache = ResultCache(paths.scarcity_cache, file_fingerprint([*splits, paths.schema]))
    with open_backend(params) as backend:
        return run_cells(
            train,
            valid,
            test,
            schema,
            generators,
            sc["n_frauds"],
            sc["repeats"],
            sc["shares"],
            dict(params["detector"]),
            sc["seeds"],
            params["evaluate"]["fpr_budgets"][0],
            params["augment"]["sample_seed"],
            cache,
            backend,
        )


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    sc, ev = params["scarcity"], params["evaluate"]
    result = sweep_cells(params, paths)
    cells = result["cells"]
    grid = SweepGrid.of(sc)
    table = sweep_table(cells, grid, ev)
    exchange = exchange_table(cells, grid, ev)
    skipped = sorted({f"n = {c['n_requested']} ({c['reason']})" for c in cells.values() if c["status"] == SKIPPED})
    seconds = sum(c.get("generator_seconds", 0) + c.get("detector_seconds", 0) for c in cells.values())
    text = headline_label(headline_name(ev)).replace(" (test)", "")
    plot = paths.scarcity_plot
    summary = sweep_markdown(table, text, ev, seconds, skipped, plot.name, exchange_sentence(exchange))
    write_csv(paths.scarcity_table, table)
    write_csv(paths.scarcity_exchange, exchange)
    plot_exchange(exchange, paths.scarcity_exchange_plot)
    write_text(paths.scarcity_summary, summary)
    judged = table[table["verdict"] != "failed"] if not table.empty else table
    plot_scarcity(table, text, plot)
    metrics = {
        "cells": len(cells),
        "failed_cells": sum(c["status"] == FAILED for c in cells.values()),
        "skipped_cells": sum(c["status"] == SKIPPED for c in cells.values()),
        "verdicts": verdict_counts(judged["verdict"] if not judged.empty else []),
    }
    metrics["exchange"] = {
        f"{r['config']}@n{r['n_frauds']}": {"worth": r["worth"], "worth_lo": r["worth_lo"], "worth_hi": r["worth_hi"]}
        for _, r in exchange.iterrows()
    }
    write_json(paths.scarcity_metrics, metrics)
    print(summary.splitlines()[2])
    print(
        f"scarcity: {len(cells)} cells, {result['computed']} computed and {result['reused']} reused from the cache; "
        f"see {paths.scarcity_summary.relative_to(paths.root)}"
    )
    return metrics
