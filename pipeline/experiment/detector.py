"""XGBoost fraud detectors: training with early stopping on REAL validation rows only.

One function trains, one scores, one saves and one loads, so another backend (Dask/Spark
XGBoost) can be swapped in behind the same calls.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.files import atomic_path

HYPERPARAMETERS = (
    "n_estimators",
    "max_depth",
    "learning_rate",
    "subsample",
    "colsample_bytree",
    "min_child_weight",
    "early_stopping_rounds",
    "n_jobs",
)


def classifier_settings(params: dict[str, Any], seed: int, scale_pos_weight: float | None = None) -> dict[str, Any]:
    """The XGBoost settings of every detector, whichever engine fits it (`make_classifier`, `engine_dask`)."""
    from pipeline.core.compute import task_threads

    kw = {k: params[k] for k in HYPERPARAMETERS if k in params}
    kw["n_jobs"] = task_threads(kw.get("n_jobs", 1))  # 1 inside a Dask task: the cluster's workers run in parallel
    return {
        "tree_method": "hist",
        "enable_categorical": True,
        "max_cat_to_onehot": 1,
        "eval_metric": "aucpr",
        "random_state": seed,
        "scale_pos_weight": 1.0 if scale_pos_weight is None else float(scale_pos_weight),
        **kw,
    }


def make_classifier(params: dict[str, Any], seed: int, scale_pos_weight: float | None = None):
    from xgboost import XGBClassifier

    return XGBClassifier(**classifier_settings(params, seed, scale_pos_weight))


def check_validation_labels(y_valid: np.ndarray) -> None:
    if np.asarray(y_valid).min() == np.asarray(y_valid).max():
        raise DataError("validation rows hold a single class; early stopping needs both classes")


def fit_info(clf: Any, seconds: float) -> dict[str, Any]:
    """What the train report records of a fitted detector (either engine)."""
    return {
        "fit_seconds": round(seconds, 3),
        "best_iteration": int(getattr(clf, "best_iteration", clf.n_estimators - 1) or 0),
        "valid_aucpr": float(getattr(clf, "best_score", np.nan)),
        "scale_pos_weight": float(clf.get_params()["scale_pos_weight"]),
    }


def train_detector(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    params: dict[str, Any],
    seed: int,
    scale_pos_weight: float | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[Any, dict]:
    """Fit one detector; early stopping watches average precision on the real validation rows. `sample_weight`:
    one weight per training row (`data.legit_fraction`), None for all 1."""
    y_train = np.asarray(y_train)
    y_valid = np.asarray(y_valid)
    if y_train.min() == y_train.max():
        raise DataError("training rows hold a single class; the detector needs fraud and legitimate rows")
    check_validation_labels(y_valid)
    clf = make_classifier(params, seed, scale_pos_weight)
    t0 = time.perf_counter()
    clf.fit(X_train, y_train, sample_weight=sample_weight, eval_set=[(X_valid, y_valid)], verbose=False)
    return clf, fit_info(clf, time.perf_counter() - t0)


def predict_scores(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Fraud scores in [0, 1] (higher = more suspicious), using the early-stopped trees."""
    return model.predict_proba(X)[:, 1].astype("float64")


def save_detector(model: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        json_tmp = tmp.with_suffix(".json")  # XGBoost picks the format from the suffix
        try:
            model.save_model(json_tmp)
            json_tmp.replace(tmp)
        finally:
            json_tmp.unlink(missing_ok=True)


def detector_bytes(model: Any) -> bytes:
    """The saved detector file's bytes (a unit on a Dask worker returns these; the stage writes them)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.json"
        save_detector(model, path)
        return path.read_bytes()


def detector_from_bytes(data: bytes) -> Any:
    from xgboost import XGBClassifier

    clf = XGBClassifier()
    clf.load_model(bytearray(data))
    return clf


def load_detector(path: str | Path) -> Any:
    from xgboost import XGBClassifier

    path = Path(path)
    if not path.exists():
        raise DataError(f"detector {path} not found; run the train stage (dvc repro train)")
    clf = XGBClassifier()
    clf.load_model(path)
    return clf
