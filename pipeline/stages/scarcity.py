"""Stages `scarcity_cell@N-R-G` (one cell of the sweep) and `scarcity` (the sweep's table, plot and summary).

See `pipeline.scarcity`. Each cell is its own DVC stage, so adding a value to `scarcity.n_frauds`,
`repeats` or `generators` runs only the new cells.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.compare import headline_name
from pipeline.compute import open_backend
from pipeline.errors import ConfigError, DataError
from pipeline.generators.registry import split_type
from pipeline.io import read_json, write_csv, write_json, write_text
from pipeline.paths import Paths
from pipeline.metrics import verdict_counts
from pipeline.plots import headline_label, plot_exchange, plot_scarcity
from pipeline.scarcity import (ALL, FAILED, OK, SKIPPED, cell_id, exchange_sentence, exchange_table, run_cell,
                               sweep_markdown, sweep_table)
from pipeline.schema import Schema


def parse_n(text: str) -> int | str:
    """`scarcity.n_frauds` value from the command line: an integer >= 2 or "all"."""
    if text == ALL:
        return ALL
    if not text.isdigit() or int(text) < 2:
        raise ConfigError(f"a scarcity cell needs n_frauds as an integer >= 2 or 'all', got {text!r}")
    return int(text)


def cell(params: dict[str, Any], paths: Paths, n: int | str, repeat: int, generator: str) -> dict[str, Any]:
    sc = params["scarcity"]
    if generator not in params["generators"]:
        raise ConfigError(f"params.yaml: scarcity cell for generator {generator!r}, which is not configured under "
                          f"generators (configured: {', '.join(params['generators'])})")
    gen_type, hp = split_type(generator, params["generators"][generator])
    schema = Schema.load(paths.schema)
    train, valid, test = (pd.read_parquet(paths.split(s)) for s in ("train", "valid", "test"))
    name = f"scarcity_cell@{n}-{repeat}-{generator}"
    print(f"{name}: {gen_type} on {n} seed frauds (draw {repeat}), shares {sc['shares']}", flush=True)
    with open_backend(params) as backend:
        out = run_cell(train, valid, test, schema, gen_type, hp, n, repeat, sc["shares"], params["detector"],
                       sc["seeds"], params["evaluate"]["fpr_budgets"][0], params["augment"]["sample_seed"], backend)
    out["generator"] = generator
    write_json(paths.scarcity_cell(cell_id(n, repeat, generator)), out)
    detail = {OK: f"{out.get('generator_seconds', 0):.1f}s generator, {out.get('detector_seconds', 0):.1f}s detectors",
              SKIPPED: out.get("reason"), FAILED: out.get("reason")}[out["status"]]
    print(f"{name}: {out['status']} ({detail})")
    return out


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    sc, ev = params["scarcity"], params["evaluate"]
    cells = {}
    for g in sc["generators"]:
        for n in sc["n_frauds"]:
            for r in sc["repeats"]:
                f = paths.scarcity_cell(cell_id(n, r, g))
                if not f.exists():
                    raise DataError(f"{f} not found; run the sweep's cells first (dvc repro scarcity)")
                cells[(n, r, g)] = read_json(f)
    table = sweep_table(cells, sc["n_frauds"], sc["repeats"], sc["generators"], sc["shares"], ev)
    exchange = exchange_table(cells, sc["n_frauds"], sc["repeats"], sc["generators"], sc["shares"], ev)
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
    metrics = {"cells": len(cells), "failed_cells": sum(c["status"] == FAILED for c in cells.values()),
               "skipped_cells": sum(c["status"] == SKIPPED for c in cells.values()),
               "verdicts": verdict_counts(judged["verdict"] if not judged.empty else [])}
    metrics["exchange"] = {f"{r['config']}@n{r['n_frauds']}": {"worth": r["worth"], "worth_lo": r["worth_lo"],
                                                              "worth_hi": r["worth_hi"]}
                           for _, r in exchange.iterrows()}
    write_json(paths.scarcity_metrics, metrics)
    print(summary.splitlines()[2])
    print(f"scarcity: {len(cells)} cells; see {paths.scarcity_summary.relative_to(paths.root)}")
    return metrics
