"""Stage `redteam`: every trained detector scored on attacked copies of the real test frauds (`experiment.redteam`):
table, summary, heat map and metrics in reports/redteam/."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.files import read_json, write_csv, write_json, write_text
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.experiment.compare import headline_hits
from pipeline.experiment.redteam import (
    CLEAN,
    COLUMNS,
    apply_attack,
    attacks,
    metrics,
    redteam_table,
    split_hits,
    summary_markdown,
)
from pipeline.experiment.scoring import score_detectors
from pipeline.reporting.plots import plot_redteam


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    started = time.perf_counter()
    rt, ev = params["redteam"], params["evaluate"]
    schema = Schema.load(paths.schema)
    attack_list = attacks(rt, schema)  # unknown feature / wrong type: one line before any work
    table = pd.DataFrame(columns=COLUMNS)
    if attack_list:
        train, valid, test = (pd.read_parquet(paths.split(s)) for s in ("train", "valid", "test"))
        legit = train[train[schema.label] == 0]
        frauds = test[test[schema.label] == 1].reset_index(drop=True)
        copies = [frauds] + [apply_attack(frauds, a, legit, schema) for a in attack_list]
        scored = score_detectors(
            read_json(paths.train_report),
            paths,
            schema,
            valid,
            pd.concat(copies, ignore_index=True),
            params,
        )
        hits = headline_hits(
            scored, valid[schema.label].to_numpy(), np.ones(len(frauds) * len(copies), dtype=int), ev["fpr_budgets"][0]
        )
        configs = list(dict.fromkeys((d.config, d.title, d.kind) for d in scored))
        challenger = read_json(paths.serving)["best"]["config"] if paths.serving.exists() else None
        table = redteam_table(
            configs, split_hits(hits, [CLEAN] + [a.name for a in attack_list], len(frauds)), challenger, ev
        )
    summary = summary_markdown(table, attack_list, schema, ev["fpr_budgets"][0], paths.redteam_plot.name)
    write_csv(paths.redteam_table, table)
    write_text(paths.redteam_summary, summary)
    out = metrics(table)
    write_json(paths.redteam_metrics, out)
    plot_redteam(table, paths.redteam_plot)
    print(summary.splitlines()[2])
    print(
        f"redteam: {len(attack_list)} attacks on the test frauds ({time.perf_counter() - started:.0f} s); "
        f"see {paths.redteam_summary.relative_to(paths.root)}"
    )
    return out
