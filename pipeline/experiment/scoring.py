"""Scoring every trained detector of reports/train.json on the validation rows and a test frame (stages `evaluate`
and `redteam`), or, for the out-of-core evaluate, summarizing their scores on both splits on the Dask workers
(`summarize_detectors`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.compute import Backend, announce, open_backend
from pipeline.core.errors import DataError
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.experiment.compare import DetectorScores
from pipeline.experiment.detector import detector_from_bytes, predict_scores
from pipeline.experiment.metrics import top_needed
from pipeline.experiment.plan import Plan
from pipeline.quality.reports import load_generator_reports


def _score_unit(unit: tuple[str, bytes], *, X_valid: pd.DataFrame, X_test: pd.DataFrame) -> tuple:
    model = detector_from_bytes(unit[1])
    return predict_scores(model, X_valid), predict_scores(model, X_test)


def _model_files(train_report: dict, paths: Paths) -> list[bytes]:
    blobs = []
    for rec in train_report["detectors"]:
        path = paths.detectors / rec["model"]
        if not path.exists():
            raise DataError(f"detector {path} not found; run the train stage (dvc repro train)")
        blobs.append(path.read_bytes())
    return blobs


def _detector_scores(train_report: dict, paths: Paths, scores: list[tuple]) -> list[DetectorScores]:
    """Each detector record of the train report with its (validation, test) scores."""
    plan = Plan.from_report(train_report)
    fits = load_generator_reports(list(plan.pools), paths, "fit", list(plan.fit_seeds))
    families = {n: r.get("family") for n, r in fits.items()}
    out = []
    for rec, (valid_scores, test_scores) in zip(train_report["detectors"], scores):
        family = families.get(rec["generator"]) if rec["generator"] else None
        out.append(
            DetectorScores(
                config=rec["config"],
                title=rec["title"],
                kind=rec["kind"],
                generator=rec["generator"],
                share=rec["share"],
                seed=rec["seed"],
                family=family,
                n_real_fraud=rec["n_real_fraud"],
                n_synthetic=rec["n_synthetic"],
                valid=valid_scores,
                test=test_scores,
                fit_seed=rec.get("fit_seed"),
                model=rec["model"],
            )
        )
    return out


def score_detectors(
    train_report: dict,
    paths: Paths,
    schema: Schema,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    params: dict[str, Any],
) -> list[DetectorScores]:
    """Every detector's scores of every row of `valid` and `test`, frames held here (the evaluate stage's pandas
    path; the red team's attacked test frauds, whatever the engine): one unit per detector on the compute backend."""
    records = train_report["detectors"]
    blobs = _model_files(train_report, paths)
    with open_backend(params) as backend:
        announce(backend, len(records), "detector scoring")
        scores = backend.map(
            _score_unit,
            [(r["model"], b) for r, b in zip(records, blobs)],
            {"X_valid": schema.to_model_frame(valid), "X_test": schema.to_model_frame(test)},
            what="detector scoring",
            name=lambda u: f"of {u[0]}",
        )
    return _detector_scores(train_report, paths, scores)


def summarize_detectors(
    train_report: dict, paths: Paths, schema: Schema, params: dict[str, Any], backend: Backend
) -> list[DetectorScores]:
    """Every detector's scores on the validation and test splits as `metrics.ScoreSummary`s, computed on the Dask
    workers of `backend` part by part (`out_of_core.summarize_split`): the out-of-core evaluate. The validation
    summary keeps the top legit scores every threshold needs (each `evaluate.fpr_budgets` and `serve.review_budget`);
    the test summary the top `max(evaluate.top_k)` legit scores and the legit rows at or above each of those
    thresholds."""
    from pipeline.experiment import engine_dask, out_of_core

    ev = params["evaluate"]
    budgets = [*ev["fpr_budgets"], params["serve"]["review_budget"]]
    blobs = _model_files(train_report, paths)
    print(
        f"compute: {len(blobs)} detectors scored part by part on the {backend.describe}; only fraud scores and "
        "the top legit scores come back",
        flush=True,
    )
    backend.client  # noqa: B018 - connect (or start the local cluster) before scoring
    valid = out_of_core.summarize_split(
        engine_dask.read_split(paths.split("valid"), schema),
        blobs,
        schema,
        top=lambda n: max(top_needed(n, b) for b in budgets),
    )
    thresholds = [[v.threshold(b) for b in budgets] for v in valid]
    test = out_of_core.summarize_split(
        engine_dask.read_split(paths.split("test"), schema),
        blobs,
        schema,
        top=lambda n: min(n, max(ev["top_k"])),
        thresholds=thresholds,
    )
    return _detector_scores(train_report, paths, list(zip(valid, test)))
