"""What the evaluate stage reports about serving: decision thresholds of the detectors publish logs (from the
validation rows), their realised false-positive rates, the best one's decisions on the test rows and its review
queue (reports/serving.json, reports/review_queue.csv), and the summary's serving sections."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.experiment.compare import DetectorScores
from pipeline.experiment.detector import load_detector
from pipeline.ops.serving import (
    QUEUE_COLUMNS,
    REVIEW,
    Scorer,
    Thresholds,
    decision_counts,
    decisions_markdown,
    missing_markdown,
    queue_frame,
    realised_fpr,
    training_missing,
)


def decide_test_rows(
    params: dict[str, Any],
    paths: Paths,
    schema: Schema,
    test: pd.DataFrame,
    y_valid,
    y_test,
    detectors: dict[str, DetectorScores],
) -> tuple[dict, pd.DataFrame]:
    """Decision thresholds of the detectors publish logs (best config and baseline, first fit and seed), from the
    validation rows, with the missing-input policy and each feature's missing share in the training split; their
    realised FPRs; the best one's decisions on the test rows and its review queue (computed columns `pipeline.*`)."""
    budget, sv = params["evaluate"]["fpr_budgets"][0], params["serve"]
    shares = training_missing(paths.split("train"), schema)
    out: dict[str, Any] = {}
    queue = pd.DataFrame()
    for role, d in detectors.items():
        thresholds = Thresholds.from_validation(
            d.valid[y_valid == 0],
            budget,
            sv["review_budget"],
            sv["reasons"],
            sv["missing"],
            sv["missing_share"],
            shares,
        )
        entry = {
            "config": d.config,
            "seed": d.seed,
            "fit_seed": d.fit_seed,
            "model": d.model,
            "thresholds": thresholds.to_dict(),
            **realised_fpr(thresholds, d.valid[y_valid == 0], d.test[y_test == 0]),
        }
        if role == "best":
            scorer = Scorer(load_detector(paths.detectors / d.model), schema, thresholds)
            decided = scorer.predict(test)
            entry["test_decisions"] = decision_counts(decided["decision"], y_test)
            keep = [c for c in (schema.time, *schema.ids, *schema.meta) if c] + schema.feature_names + [schema.label]
            queue = queue_frame(test[keep], decided)
            queue = queue[queue[QUEUE_COLUMNS["decision"]] == REVIEW].sort_values(
                QUEUE_COLUMNS["score"], ascending=False, kind="stable"
            )
        out[role] = entry
    return out, queue.reset_index(drop=True)


def serving_markdown(entry: dict[str, Any]) -> str:
    """The summary's serving sections for the best detector's entry: its decisions on the test rows, then the
    missing-input policy when it has something to say."""
    text = "\n" + decisions_markdown(entry)
    missing = missing_markdown(entry["thresholds"])
    text += ("\n" + missing) if missing else ""
    return text
