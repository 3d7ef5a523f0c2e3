"""What the retrain measures for promotion's guardrails, on the new rows: a registered model's headline recall
overall and per fraud segment, its recall on the test frauds under each red-team attack, and the quality-gate
flags of the pools the challenger was trained on. The decision itself is `pipeline.ops.promotion.decide`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.paths import Paths


def guardrail_segments(test: pd.DataFrame, params: dict, label: str) -> dict[str, np.ndarray]:
    """Masks of the test rows per fraud segment for the segment guardrail: all test frauds, and each segment of
    `evaluate.segments`."""
    from pipeline.data.segments import fraud_segments

    out = {"all test frauds": np.ones(len(test), dtype=bool)}
    out.update({s.name: s.mask for s in fraud_segments(test, params["evaluate"]["segments"], label)})
    return out


def recalls(
    scorer: Any, schema, valid: pd.DataFrame, test: pd.DataFrame, budget: float, segments: dict[str, np.ndarray]
) -> tuple[float, dict[str, float]]:
    """Headline recall of a registered model on the new rows (scored through its serving interface), and per
    segment (thresholds always from all validation legit rows)."""
    from pipeline.experiment.metrics import recall_at_budget

    yv, yt = valid[schema.label].to_numpy(), test[schema.label].to_numpy()
    sv, st = scorer.scores(valid), scorer.scores(test)
    return (
        recall_at_budget(yv, sv, yt, st, budget),
        {name: recall_at_budget(yv, sv, yt[m], st[m], budget) for name, m in segments.items()},
    )


def attacked_frauds(params: dict, schema, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The new test frauds under each red-team attack (`redteam:`; the quantiles and modes from the new training
    split's legitimate rows), for the red-team guardrail. No tactics: {}."""
    from pipeline.experiment.redteam import apply_attack, attacks

    legit = train[train[schema.label] == 0]
    frauds = test[test[schema.label] == 1].reset_index(drop=True)
    return {a.name: apply_attack(frauds, a, legit, schema) for a in attacks(params["redteam"], schema)}


def attack_recalls(
    scorer: Any, schema, valid: pd.DataFrame, attacked: dict[str, pd.DataFrame], budget: float
) -> dict[str, float]:
    """Recall of a registered model on each attacked copy of the test frauds (threshold from the validation legit
    rows, as for the headline)."""
    from pipeline.experiment.metrics import recall_at_budget

    if not attacked:
        return {}
    yv, sv = valid[schema.label].to_numpy(), scorer.scores(valid)
    return {
        name: recall_at_budget(yv, sv, frame[schema.label].to_numpy(), scorer.scores(frame), budget)
        for name, frame in attacked.items()
    }


def pool_flags(paths: Paths, best_config: str | None, fit_seeds: list[int]) -> list[str] | None:
    """Quality-gate checks failed by the pools (one per fit seed) the challenger was trained on (None: real rows
    only)."""
    from pipeline.quality.reports import failed_checks, load_generator_reports

    if not best_config or "@" not in best_config:
        return None
    name = best_config.split("@")[0]
    report = load_generator_reports([name], paths, "quality", fit_seeds).get(name)
    return failed_checks(report) if report is not None else ["quality report missing"]
