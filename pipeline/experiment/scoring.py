"""Scoring every trained detector of reports/train.json on the validation rows and a test frame (stages `evaluate`
and `redteam`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.compute import announce, open_backend
from pipeline.core.errors import DataError
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.experiment.compare import DetectorScores
from pipeline.experiment.detector import detector_from_bytes, predict_scores
from pipeline.quality.reports import load_generator_reports


def _score_unit(unit: tuple[str, bytes], *, X_valid: pd.DataFrame, X_test: pd.DataFrame) -> tuple:
    model = detector_from_bytes(unit[1])
    return predict_scores(model, X_valid), predict_scores(model, X_test)


def score_detectors(
    train_report: dict,
    paths: Paths,
    schema: Schema,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    params: dict[str, Any],
    test_parts: bool = True,
) -> list[DetectorScores]:
    """Every detector's validation scores and its scores on `test`. `detector.engine: xgboost`: one unit per
    detector on the compute backend; `dask`: the test split's Parquet parts scored on the workers
    (`engine_dask`), unless `test_parts` is false (`test` is then a small frame held here, such as the
    red-team's attacked test frauds, scored like the validation rows)."""
    fits = load_generator_reports(train_report["generators"], paths, "fit", train_report["fit_seeds"])
    families = {n: r.get("family") for n, r in fits.items()}
    records = train_report["detectors"]
    blobs = []
    for rec in records:
        path = paths.detectors / rec["model"]
        if not path.exists():
            raise DataError(f"detector {path} not found; run the train stage (dvc repro train)")
        blobs.append(path.read_bytes())
    X_valid = schema.to_model_frame(valid)
    with open_backend(params) as backend:
        if train_report.get("engine", "xgboost") == "dask" and test_parts:
            from pipeline.experiment import engine_dask

            print(f"compute: {len(records)} detectors scored part by part on the {backend.describe}", flush=True)
            backend.client  # noqa: B018 - connect (or start the local cluster) before scoring
            models = [detector_from_bytes(b) for b in blobs]
            tests = engine_dask.score_split(engine_dask.read_split(paths.split("test"), schema), models, schema)
            scores = [(predict_scores(m, X_valid), t) for m, t in zip(models, tests)]
        else:
            announce(backend, len(records), "detector scoring")
            scores = backend.map(
                _score_unit,
                [(r["model"], b) for r, b in zip(records, blobs)],
                {"X_valid": X_valid, "X_test": schema.to_model_frame(test)},
                what="detector scoring",
                name=lambda u: f"of {u[0]}",
            )
    out = []
    for rec, (valid_scores, test_scores) in zip(records, scores):
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
