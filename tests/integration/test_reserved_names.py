"""No name the pipeline uses can meet a user column; missing values at serving; the registered model on prepared rows.

The column names the pipeline itself writes under these params - the header of every CSV table it leaves under
`reports/` (comparison, segments, review queue, plot data, scarcity, unseen, red-team) - are `WRITTEN` (found by a
real run on plain column names), besides the serving model's answer (`pipeline.ops.serving.OUTPUT_COLUMNS`) and the
tables' own column constants. One real `dvc repro` takes a table whose FEATURES carry every one of those names
(`score`, `decision`, `verdict`, `recall`, `config`, ...) through the whole pipeline, and checks that it wrote no
name outside them (a new one fails the test, naming it); then the registered model answers on its prepared test
rows in-process, with a null in each feature in turn.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.core.paths import Paths
from pipeline.core.schema import RESERVED_PREFIX, Schema
from pipeline.experiment import redteam, scarcity, unseen
from pipeline.ops.serving import OUTPUT_COLUMNS, QUEUE_COLUMNS, REVIEW, Scorer, Thresholds
from tests.helpers import base_params, csv_table, tabular_frame
from tests.integration.project import make_project, sh

pytestmark = pytest.mark.slow
NAME = "fraud-detector"
PLAIN = {"amount": "amount", "v1": "v1", "count": "count", "channel": "channel"}  # tabular_frame's features
#: every column name a run of `_params` writes into its report tables besides the user's columns and the reserved
#: namespace, as `pipeline_names` found it on `tabular_frame`'s plain names (2026-12-02); the clashing run checks that
#: it wrote no other
WRITTEN = (
    "admissible",
    "admission",
    "baseline_recall",
    "cell",
    "censored",
    "challenger",
    "clean_recall",
    "config",
    "dcr_ratio",
    "decision",
    "detectable",
    "detection_auc",
    "diff",
    "diff_hi",
    "diff_lo",
    "drop",
    "eq_hi",
    "eq_lo",
    "exact_copy_share",
    "family",
    "fit_seeds",
    "frauds_needed",
    "gain_per_doubling",
    "generator",
    "headline_metric",
    "kind",
    "known_baseline_recall",
    "known_diff",
    "known_diff_hi",
    "known_diff_lo",
    "known_n_frauds",
    "known_recall",
    "known_verdict",
    "lift",
    "lift_hi",
    "lift_lo",
    "lift_vs_reweight",
    "lift_vs_reweight_hi",
    "lift_vs_reweight_lo",
    "model",
    "n_draws",
    "n_equivalent",
    "n_fits",
    "n_frauds",
    "n_real_fraud",
    "n_requested",
    "n_seed_frauds",
    "n_seeds",
    "n_synthetic",
    "n_test_frauds",
    "n_train_removed",
    "n_valid_removed",
    "pr_auc_mean",
    "pr_auc_per_seed",
    "pr_auc_std",
    "precision",
    "quality_failed_checks",
    "quality_passed",
    "quality_score",
    "reason",
    "reasons",
    "recall",
    "recall_at_fpr_0.5pct_mean",
    "recall_at_fpr_0.5pct_per_seed",
    "recall_at_fpr_0.5pct_std",
    "recall_hi",
    "recall_lo",
    "ref_drop",
    "ref_recall",
    "roc_auc_mean",
    "roc_auc_per_seed",
    "roc_auc_std",
    "score",
    "seeds",
    "seen_recall",
    "segment",
    "segment_column",
    "segment_name",
    "share",
    "sign_p",
    "tactic",
    "test_fpr_at_fpr_0.5pct_mean",
    "test_fpr_at_fpr_0.5pct_per_seed",
    "test_fpr_at_fpr_0.5pct_std",
    "threshold",
    "threshold_at_fpr_0.5pct_mean",
    "threshold_at_fpr_0.5pct_per_seed",
    "threshold_at_fpr_0.5pct_std",
    "title",
    "valid_diff",
    "valid_diff_hi",
    "valid_diff_lo",
    "valid_pr_auc_mean",
    "valid_recall_mean",
    "valid_verdict_adjusted",
    "variant",
    "variant_column",
    "verdict",
    "verdict_adjusted",
    "verdict_vs_reweight",
    "worth",
    "worth_hi",
    "worth_lo",
)


def _params(names: dict[str, str]) -> dict:
    """One generator, one fit, one detector seed; segments, unseen variants and a red-team tactic on the table's own
    columns (under the names they carry in this run)."""
    p = base_params()
    p["data"].update(csv_table())
    p["generators"] = {"smote": {"k_neighbors": 3}}
    p["augment"].update({"shares": [0.0, 0.5], "fit_seeds": [0]})
    p["detector"]["seeds"] = [0]
    # one alert budget, no precision floors or top-k: fewer metric columns, so fewer features for the second run
    p["evaluate"].update(
        {"segments": [names["channel"]], "n_boot": 100, "fpr_budgets": [0.005], "precision_floors": [], "top_k": []}
    )
    p["scarcity"] = {"n_frauds": [10, "all"], "repeats": [0], "generators": ["smote"], "shares": [0.5], "seeds": [0]}
    p["unseen"] = {"column": names["channel"], "generators": ["smote"], "shares": [0.5], "fit_seeds": [0], "seeds": [0]}
    p["redteam"] = {
        "tactics": [{"name": "half", "feature": names["amount"], "op": "scale", "value": 0.5}],
        "combinations": False,
    }
    return p


def _run(dest: Path, table: pd.DataFrame, names: dict[str, str]) -> Path:
    root = make_project(dest, _params(names))
    table.to_csv(root / "data/raw/t.csv", index=False)
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "data")
    sh(root, "dvc", "repro")
    return root


def pipeline_names(root: Path | None, user_columns: set[str]) -> list[str]:
    """Every column name the pipeline wrote into a table of a finished run at `root` (none: no run), its serving
    answer and its tables' column constants, that is not a user column; the reserved `pipeline.` namespace aside (no
    user column may take it: tests/unit)."""
    names = set(OUTPUT_COLUMNS) | set(unseen.COLUMNS) | set(redteam.COLUMNS) | set(scarcity.COLUMNS)
    names |= set(scarcity.EXCHANGE_COLUMNS)
    for csv in (root / "reports").rglob("*.csv") if root is not None else ():
        try:
            names |= set(pd.read_csv(csv, nrows=0).columns)
        except pd.errors.EmptyDataError:
            continue
    return sorted(n for n in names - user_columns if not n.startswith(RESERVED_PREFIX) and not n.startswith("Unnamed"))


@pytest.fixture(scope="module")
def clashing(tmp_path_factory):
    base = tmp_path_factory.mktemp("names")
    plain = tabular_frame(1000, fraud_rate=0.1, seed=5)
    plain["channel"] = plain["channel"].map({"web": "web", "atm": "web", "pos": "pos", "phone": "pos"})  # 2 variants
    names = sorted(set(WRITTEN) | set(pipeline_names(None, set(plain.columns))))
    assert {"score", "decision", "reasons", "verdict", "config", "recall"} <= set(names)
    # the table's four features take the first pipeline names; every other name is a noise feature
    renamed = dict(zip(PLAIN, names[:4]))
    rng = np.random.default_rng(0)
    noise = {
        n: rng.integers(0, 5, len(plain)) if i % 3 == 0 else rng.normal(0, 1, len(plain)).round(4)
        for i, n in enumerate(names[4:])
    }
    table = pd.concat([plain.rename(columns=renamed), pd.DataFrame(noise)], axis=1)
    root = _run(base / "clashing", table, renamed)
    return root, names, renamed, set(table.columns)


def _load(root: Path):
    """The registered challenger of the project at `root`, from its own store. An in-process publish in another test
    (pipeline.ops.tracking.connect) sets MLflow's process-wide tracking URI, which wins over the environment; setting
    it here also writes MLFLOW_TRACKING_URI. Both are put back exactly as they were, so no later test sees ours."""
    import mlflow.pyfunc
    from mlflow.tracking._tracking_service import utils as tracking_utils

    old_global, old_env = tracking_utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    try:
        mlflow.set_tracking_uri(f"sqlite:///{Paths.at(root).mlflow_db}")
        return mlflow.pyfunc.load_model(f"models:/{NAME}@challenger")
    finally:
        tracking_utils._tracking_uri = old_global
        if old_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_env


def test_features_named_like_every_pipeline_column_run_end_to_end(clashing):
    root, names, _, user_columns = clashing
    paths = Paths.at(root)
    schema = Schema.load(paths.schema)
    assert set(names) <= set(schema.feature_names)
    new = pipeline_names(root, user_columns)
    assert new == [], f"the pipeline now writes column(s) {new}: add them to WRITTEN, so a feature carries each"
    queue = pd.read_csv(paths.review_queue)
    assert queue.columns.is_unique and set(QUEUE_COLUMNS.values()) <= set(queue.columns)
    assert set(schema.feature_names) <= set(queue.columns)
    assert (queue[QUEUE_COLUMNS["decision"]] == REVIEW).all()
    for table in (
        "comparison.csv",
        "comparison_segments.csv",
        "unseen/unseen.csv",
        "redteam/redteam.csv",
        "scarcity/scarcity.csv",
    ):
        assert pd.read_csv(root / "reports" / table).columns.is_unique, table
    assert (root / "reports/mlflow.json").exists()  # published and registered
    # the serving section reports each feature's missing share in training (none of these is ever missing)
    summary = paths.summary.read_text()
    assert "Missing values at serving (`serve.missing: review`)" in summary
    t = json.loads(paths.serving.read_text())["best"]["thresholds"]
    assert t["missing"] == "review" and t["training_missing"] == {f: 0.0 for f in schema.feature_names}


def test_the_registered_model_answers_on_the_prepared_test_rows(clashing):
    root, names, renamed, _ = clashing
    paths = Paths.at(root)
    schema = Schema.load(paths.schema)
    test = pd.read_parquet(paths.split("test"))
    assert test[renamed["count"]].dtype == "int64"  # an integer feature, as prepared (double refused it)
    model = _load(root)
    out = model.predict(test)
    assert list(out.columns) == list(OUTPUT_COLUMNS) and len(out) == len(test)
    # the serving core (what evaluate uses for the review queue) answers the same
    serving = json.loads(paths.serving.read_text())["best"]
    core = Scorer.from_files(paths.detectors / serving["model"], paths.schema, _thresholds(root, serving))
    pd.testing.assert_frame_equal(out, core.predict(test))
    # a null in each feature in turn: the row goes to review, with the feature named, in-process and in the core
    rows = pd.concat([test.head(1)] * len(schema.feature_names), ignore_index=True)
    for i, f in enumerate(schema.feature_names):
        rows[f] = rows[f].astype(object if schema.feature(f).is_categorical else "float64")
        rows.loc[i, f] = None if schema.feature(f).is_categorical else np.nan
    got = model.predict(rows)
    assert got["decision"].tolist() == [REVIEW] * len(rows)
    assert got["reasons"].tolist() == [f"missing: {f}" for f in schema.feature_names]
    pd.testing.assert_frame_equal(got, core.predict(rows))


def _thresholds(root: Path, serving: dict) -> Path:
    path = root / "thresholds.json"
    path.write_text(json.dumps(Thresholds(**serving["thresholds"]).to_dict()))
    return path
