"""The evaluate stage's tables: every trained detector scored on the same untouched real test rows, the
comparison with its CIs and verdicts, the segment and targeting tables, the generator leaderboard, and the
detectors serving is decided for (the challenger and the baseline, first fit and detector seed).

Two paths give the same tables (`out_of_core`): with `detector.engine: xgboost` this process reads the validation
and test splits and holds every detector's score of every row; with `detector.engine: dask` (a table trained
out of core) the workers score the splits part by part and only `metrics.ScoreSummary`s come back (fraud scores,
top legit scores, counts), and this process reads only the test frauds' label and segment columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.compute import Backend
from pipeline.core.files import read_json
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.data.segments import fraud_segments, segment_columns
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
from pipeline.experiment.metrics import ScoreSummary
from pipeline.experiment.plan import Plan
from pipeline.experiment.scoring import score_detectors, summarize_detectors
from pipeline.quality.reports import load_generator_reports


@dataclass
class Evaluation:
    """What `evaluate_detectors` computed: the inputs it read and every table the evaluate stage writes."""

    schema: Schema
    test: pd.DataFrame | None  # every test row; None out of core (`out_of_core`)
    y_valid: np.ndarray | None  # the labels of every validation and test row; None out of core
    y_test: np.ndarray | None
    n_test: int  # test rows
    train_report: dict[str, Any]
    scored: list[DetectorScores]
    quality: dict[str, dict]
    table: pd.DataFrame  # the comparison: one row per configuration
    segments: pd.DataFrame  # per fraud segment of `evaluate.segments` (empty: none)
    targeting: pd.DataFrame | None  # per segment of `augment.target.column` (None: no target)
    board: pd.DataFrame  # the generator leaderboard
    best: pd.Series  # the challenger configuration's comparison row (`challenger_config`)
    first_seed: int  # the first detector seed
    pick: dict[str, DetectorScores]  # per configuration: its detector of the first seed and first fit seed

    @property
    def served(self) -> dict[str, DetectorScores]:
        """The detectors whose thresholds publish logs: the best configuration's and the baseline's."""
        return {"best": self.pick[self.best["config"]], "baseline": self.pick["baseline"]}


def out_of_core(train_report: dict) -> bool:
    """Whether evaluate runs out of core: the detectors were trained out of core (`detector.engine: dask`)."""
    return train_report.get("engine", "xgboost") == "dask"


def _test_frauds(paths: Paths, schema: Schema, columns: list[str]) -> pd.DataFrame:
    """The test split's fraud rows, only the label and those of `columns` it has (a missing one is named by
    `fraud_segments`), read part by part on the Dask workers (the current client)."""
    from pipeline.experiment.engine_dask import read_split

    ddf = read_split(paths.split("test"), schema)
    ddf = ddf[list(dict.fromkeys([schema.label, *(c for c in columns if c in ddf.columns)]))]
    return ddf[ddf[schema.label] == 1].compute().reset_index(drop=True)


def evaluate_detectors(params: dict[str, Any], paths: Paths, backend: Backend) -> Evaluation:
    """Score every detector of the train stage on the validation and test rows and build every table of the
    comparison. Out of core (`out_of_core`) on the Dask cluster of `backend`; else on the compute backend
    `score_detectors` opens (`backend` then starts nothing)."""
    schema = Schema.load(paths.schema)
    train_report = read_json(paths.train_report)
    ev = params["evaluate"]
    target = params["augment"]["target"]
    if out_of_core(train_report):
        scored = summarize_detectors(train_report, paths, schema, params, backend)
        y_valid = y_test = test = None
        frauds = _test_frauds(
            paths, schema, segment_columns([*ev["segments"], *([target["column"]] if target else [])])
        )
        summary = scored[0].test
        assert isinstance(summary, ScoreSummary)  # out of core, every detector's scores are summaries
        n_test = summary.n_legit + len(frauds)
    else:
        valid = pd.read_parquet(paths.split("valid"))
        test = pd.read_parquet(paths.split("test"))
        y_valid, y_test = valid[schema.label].to_numpy(), test[schema.label].to_numpy()
        scored = score_detectors(train_report, paths, schema, valid, test, params)
        frauds, n_test = test[y_test == 1].reset_index(drop=True), len(test)
    # segments are groups of test frauds: taken from the fraud rows alone, on both paths
    y_seg = frauds[schema.label].to_numpy()
    plan = Plan.from_report(train_report)
    quality = load_generator_reports(list(plan.pools), paths, "quality", list(plan.fit_seeds))
    hits = headline_hits(scored, y_valid, y_test, ev["fpr_budgets"][0])
    table = compare(scored, y_valid, y_test, ev, quality, hits=hits)
    seg_table = segment_table(table, hits, y_seg, fraud_segments(frauds, ev["segments"], schema.label), ev)

    best = challenger_config(table)  # the one place the registered detector is chosen
    first_seed = plan.first_seed
    pick = {d.config: d for d in scored if d.seed == first_seed and d.fit_seed in (None, plan.first_fit)}

    targeting = (
        targeting_table(table, hits, y_seg, fraud_segments(frauds, [target["column"]], schema.label), ev)
        if target
        else None
    )
    return Evaluation(
        schema=schema,
        test=test,
        y_valid=y_valid,
        y_test=y_test,
        n_test=n_test,
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
