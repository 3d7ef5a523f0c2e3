"""Stage `unseen`: the leave-one-variant-out test (`pipeline.experiment.unseen`): table, summary, plot and metrics in
reports/unseen/. Cells come from the cell cache (data/cache/unseen) where their inputs are unchanged."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.cache import ResultCache
from pipeline.core.compute import open_backend
from pipeline.core.files import write_csv, write_json, write_text
from pipeline.core.paths import Paths
from pipeline.core.provenance import file_fingerprint
from pipeline.core.schema import Schema
from pipeline.experiment.compare import headline_name
from pipeline.experiment.unseen import COLUMNS, Setup, headline, metrics, run_cells, unseen_markdown, unseen_table
from pipeline.generators.registry import split_type
from pipeline.reporting.plots import headline_label, plot_unseen


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    un, ev = params["unseen"], params["evaluate"]
    text = headline_label(headline_name(ev)).replace(" (test)", "")
    schema = Schema.load(paths.schema)
    result = None
    table = pd.DataFrame(columns=COLUMNS)
    if un["column"] is not None:
        splits = [paths.split(s) for s in ("train", "valid", "test")]
        train, valid, test = (pd.read_parquet(f) for f in splits)
        setup = Setup(
            entry=un["column"],
            generators={g: split_type(g, params["generators"][g]) for g in un["generators"]},
            shares=list(un["shares"]),
            fit_seeds=list(un["fit_seeds"]),
            seeds=list(un["seeds"]),
            detector=dict(params["detector"]),
            budget=ev["fpr_budgets"][0],
            sample_seed=params["augment"]["sample_seed"],
        )
        cache = ResultCache(paths.unseen_cache, file_fingerprint([*splits, paths.schema]))
        with open_backend(params) as backend:
            result = run_cells(train, valid, test, schema, setup, cache, backend)
        table = unseen_table(result, ev)
    column = result["column"] if result else None
    summary = unseen_markdown(
        table, result, text, ev, feature=column in schema.feature_names, plot_name=paths.unseen_plot.name
    )
    write_csv(paths.unseen_table, table)
    write_text(paths.unseen_summary, summary)
    out = metrics(table, result)
    write_json(paths.unseen_metrics, out)
    plot_unseen(table, text, paths.unseen_plot, note="" if result else "The unseen-variant test is off (unseen.column)")
    print(headline(table) if result else summary.splitlines()[2])
    if result:
        print(
            f"unseen: {result['computed']} cells computed, {result['reused']} reused from the cache "
            f"({result['seconds']:.0f} s); see {paths.unseen_summary.relative_to(paths.root)}"
        )
    return out
