"""The evaluate stage's tables: every trained detector scored on the same untouched real test rows, the
comparison with its CIs and verdicts, the segment and targeting tables, the generator leaderboard, and the
detectors serving is decided for (the challenger and the baseline, first fit and detector seed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.files import read_json
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.data.segments import fraud_segments
from pipeline.experiment.challenger import challenger_config
from pipeline.experiment.compare import (
    DetectorScores,
    compare,
    headline_hits,
    leaderboard,
    metrics_dict,
    segment_metrics,
    segment_table,
    targeting_table,
)
from pipeline.experiment.scoring import score_detectors
from pipeline.quality.reports import load_generator_reports


@dataclass
class Evaluation:
    """What `evaluate_detectors` computed: the inputs it read and every table the evaluate stage writes."""

    schema: Schema
    test: pd.DataFrame
    y_valid: np.ndarray
    y_test: np.ndarray
    train_report: dict[str, Any]
    scored: list[DetectorScores]
    quality: dict[str, dict]
    table: pd.DataFrame  # the comparison: one row per configuration
    segments: pd.DataFrame  # per fraud segment of `evaluate.segments` (empty: none)
    targeting: pd.DataFrame | None  # per segment of `augment.target.column` (None: no target)
    board: pd.DataFrame  # the generator leaderboard
    best: dict[str, Any]  # the challenger configuration (`challenger_config`)
    first_seed: int  # the first detector seed
    pick: dict[str, DetectorScores]  # per configuration: its detector of the first seed and first fit seed

    @property
    def served(self) -> dict[str, DetectorScores]:
        """The detectors whose thresholds publish logs: the best configuration's and the baseline's."""
        return {"best": self.pick[self.best["config"]], "baseline": self.pick["baseline"]}


def evaluate_detectors(params: dict[str, Any], paths: Paths) -> Evaluation:
    """Score every detector of the train stage on the validation and test rows and build every table of the
    comparison."""
    schema = Schema.load(paths.schema)
    valid = pd.read_parquet(paths.split("valid"))
    test = pd.read_parquet(paths.split("test"))
    train_report = read_json(paths.train_report)
    y_valid, y_test = valid[schema.label].to_numpy(), test[schema.label].to_numpy()
    scored = score_detectors(train_report, paths, schema, valid, test, params)
    quality = load_generator_reports(train_report["generators"], paths, "quality", train_report["fit_seeds"])
    ev = params["evaluate"]
    hits = headline_hits(scored, y_valid, y_test, ev["fpr_budgets"][0])
    table = compare(scored, y_valid, y_test, ev, quality, hits=hits)
    seg_table = segment_table(table, hits, y_test, fraud_segments(test, ev["segments"], schema.label), ev)

    best = challenger_config(table)  # the one place the registered detector is chosen
    first_seed = min(d.seed for d in scored)
    first_fit = min(train_report["fit_seeds"])
    pick = {d.config: d for d in scored if d.seed == first_seed and d.fit_seed in (None, first_fit)}

    target = params["augment"]["target"]
    targeting = (
        targeting_table(table, hits, y_test, fraud_segments(test, [target["column"]], schema.label), ev)
        if target
        else None
    )
    return Evaluation(
        schema=schema,
        test=test,
        y_valid=y_valid,
        y_test=y_test,
        train_report=train_report,
        scored=scored,
        quality=quality,
        table=table,
        segments=seg_table,
        targeting=targeting,
        board=leaderboard(table, quality),
        best=best,
        first_seed=first_seed,
        pick=pick,
    )


def evaluation_metrics(ev: Evaluation, test_decisions: dict[str, dict[str, int]]) -> dict[str, Any]:
    """reports/metrics.json (DVC metrics): the comparison's, the served detector's decisions on the test rows
    (rows per decision) and the challenger's recall per segment."""
    metrics = metrics_dict(ev.table)
    metrics["test"]["decisions"] = {k: v["rows"] for k, v in test_decisions.items()}
    metrics["segments"] = segment_metrics(ev.segments, ev.best["config"])
    return metrics
