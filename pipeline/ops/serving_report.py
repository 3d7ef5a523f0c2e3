"""What the evaluate stage reports about serving: decision thresholds of the detectors publish logs (from the
validation rows), their realised false-positive rates, the best one's decisions on the test rows and its review
queue (reports/serving.json, reports/review_queue.csv), and the summary's serving sections. Out of core (the
detectors' scores are `ScoreSummary`s) the thresholds and FPRs come from the summaries, and the best detector
decides the test parts on the Dask workers: only the rows it alerts or reviews come back."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.compute import Backend
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.experiment.compare import DetectorScores
from pipeline.experiment.detector import load_detector
from pipeline.ops.serving import (
    ALERT,
    PASS,
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
    test: pd.DataFrame | None,
    y_valid,
    y_test,
    detectors: dict[str, DetectorScores],
    backend: Backend | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Decision thresholds of the detectors publish logs (best config and baseline, first fit and seed), from the
    validation rows, with the missing-input policy and each feature's missing share in the training split; their
    realised FPRs; the best one's decisions on the test rows and its review queue (computed columns `pipeline.*`).
    `test` None (out-of-core evaluate: the detectors' scores are `ScoreSummary`s): the best detector decides the
    test split's rows part by part on the Dask workers of `backend`, and only the rows it does not pass come back."""
    budget, sv = params["evaluate"]["fpr_budgets"][0], params["serve"]
    shares = training_missing(paths.split("train"), schema)
    out: dict[str, Any] = {}
    queue = pd.DataFrame()
    for role, d in detectors.items():
        valid, on_test = d.splits(y_valid, y_test)
        thresholds = Thresholds.from_validation(
            valid,
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
            **realised_fpr(thresholds, valid, on_test),
        }
        if role == "best":
            scorer = Scorer(load_detector(paths.detectors / d.model), schema, thresholds)
            keep = [c for c in (schema.time, *schema.ids, *schema.meta) if c] + schema.feature_names + [schema.label]
            if test is None:
                if backend is None:
                    raise ValueError("out-of-core decisions need the Dask backend the scores were summarized on")
                backend.client  # noqa: B018 - the cluster the scores were summarized on
                flagged = _flagged_parts(paths, schema, scorer, keep)
                n_frauds = on_test.fraud.size
                entry["test_decisions"] = flagged_counts(flagged, schema.label, on_test.n_legit + n_frauds, n_frauds)
            else:
                flagged = queue_frame(test[keep], scorer.predict(test))
                entry["test_decisions"] = decision_counts(flagged[QUEUE_COLUMNS["decision"]], y_test)
            queue = flagged[flagged[QUEUE_COLUMNS["decision"]] == REVIEW].sort_values(
                QUEUE_COLUMNS["score"], ascending=False, kind="stable"
            )
        out[role] = entry
    return out, queue.reset_index(drop=True)


def _flagged_part(part: pd.DataFrame, scorer: Scorer, keep: list[str]) -> pd.DataFrame:
    """A test part's rows the scorer does not pass, as review-queue rows (`queue_frame`)."""
    rows = queue_frame(part[keep], scorer.predict(part))
    return rows[rows[QUEUE_COLUMNS["decision"]] != PASS]


def _flagged_parts(paths: Paths, schema: Schema, scorer: Scorer, keep: list[str]) -> pd.DataFrame:
    """The test rows `scorer` alerts or reviews, decided part by part on the Dask workers (the current client), in
    row order."""
    from pipeline.experiment.engine_dask import read_split

    ddf = read_split(paths.split("test"), schema)
    meta = _flagged_part(ddf._meta, scorer, keep)
    return ddf.map_partitions(_flagged_part, scorer, keep, meta=meta, enforce_metadata=False).compute()


def flagged_counts(flagged: pd.DataFrame, label: str, n_rows: int, n_frauds: int) -> dict[str, dict[str, int]]:
    """`decision_counts` of a table's rows from its rows not passed (review-queue rows with their `label` column)
    and the table's numbers of rows and frauds: the passed rows are the rest."""
    out = decision_counts(flagged[QUEUE_COLUMNS["decision"]], flagged[label].to_numpy())
    out[PASS] = {
        "rows": n_rows - sum(out[d]["rows"] for d in (ALERT, REVIEW)),
        "frauds": n_frauds - sum(out[d]["frauds"] for d in (ALERT, REVIEW)),
    }
    return out


def serving_markdown(entry: dict[str, Any]) -> str:
    """The summary's serving sections for the best detector's entry: its decisions on the test rows, then the
    missing-input policy when it has something to say."""
    text = "\n" + decisions_markdown(entry)
    missing = missing_markdown(entry["thresholds"])
    text += ("\n" + missing) if missing else ""
    return text
