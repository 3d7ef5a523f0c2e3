"""Publish to a real MLflow server on 127.0.0.1, then check everything through the client and the REST API."""

import json
import os
import shutil
import urllib.request

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def tracking_env(monkeypatch):
    def set_uri(uri):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    return set_uri


def _copy(src_root, dest, name=None):
    """A copy of the reports project; with `name`, its own experiment and registered model on the shared server,
    so no test depends on what another one published."""
    shutil.copytree(src_root, dest)
    if name:
        p = yaml.safe_load((dest / "params.yaml").read_text())
        p["tracking"].update({"experiment": f"exp-{name}", "model_name": f"model-{name}"})
        (dest / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    return dest


def _rest(uri, path, body=None):
    req = urllib.request.Request(
        uri + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body else "GET",
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def test_publish_to_server(small_reports, mlflow_server, tracking_env, tmp_path, capsys):
    root, _ = small_reports
    root = _copy(root, tmp_path / "proj", name="first")
    params = yaml.safe_load((root / "params.yaml").read_text())
    tracking_env(mlflow_server)
    assert main(["--root", str(root), "publish"]) == 0
    record = json.loads((root / "reports/mlflow.json").read_text())
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name(params["tracking"]["experiment"])
    parent = client.get_run(record["parent_run_id"])
    for tag in ("git_commit", "data_fingerprint", "params_hash", "version.sdv", "version.mlflow", "best_run"):
        assert tag in parent.data.tags, tag
    assert "test.baseline.recall" in parent.data.metrics
    arts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"comparison.csv", "summary.md", "metrics.json", "plots", "unseen"} <= arts
    children = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    names = {c.info.run_name for c in children}
    assert {"real-only baseline", "reweight baseline", "gaussian_copula @ 50%", "smote @ 50%"} <= names
    child = next(c for c in children if c.info.run_name == "smote @ 50%")
    assert {"recall", "recall_lo", "recall_hi", "lift", "lift_lo", "lift_hi", "detectable"} <= set(child.data.metrics)
    assert child.data.tags["verdict"] in {"helps", "hurts", "equivalent", "inconclusive"}
    # the unseen-variant test's cells of this configuration, one per held-out variant
    assert any(k.startswith("unseen.fraud_scenario_") and k.endswith(".recall") for k in child.data.metrics)
    assert any(k.startswith("unseen.fraud_scenario_") and k.endswith(".verdict") for k in child.data.tags)
    assert child.data.params["share"] == "0.5" and "generator.k_neighbors" in child.data.params
    hist = client.get_metric_history(child.info.run_id, "seed.recall_at_fpr_0.5pct")
    assert sorted(m.step for m in hist) == [0, 1]
    assert "quality.json" in {a.path for a in client.list_artifacts(child.info.run_id)}
    # registry: the first version is the challenger; only a retrain makes a champion
    name = params["tracking"]["model_name"]
    assert client.get_model_version_by_alias(name, "challenger").version == "1"
    assert record["registered_model"]["aliases"] == ["challenger"]
    # REST API sees the same
    rest = _rest(mlflow_server, "/api/2.0/mlflow/runs/get?run_id=" + parent.info.run_id)
    assert rest["run"]["info"]["run_id"] == parent.info.run_id
    reg = _rest(mlflow_server, "/api/2.0/mlflow/registered-models/get?name=" + name)
    assert {a["alias"] for a in reg["registered_model"]["aliases"]} == {"challenger"}
    # the registered model is the serving model of the best detector: it scores raw validation rows exactly as the
    # detector file on disk, and it answers score / decision / reasons
    import mlflow.pyfunc

    from pipeline.core.schema import Schema
    from pipeline.experiment.detector import load_detector, predict_scores
    from pipeline.ops.serving import serving_frame

    schema = Schema.load(root / "data/prepared/schema.json")
    valid = pd.read_parquet(root / "data/prepared/valid.parquet").head(50)
    train_report = json.loads((root / "reports/train.json").read_text())
    best = record["best_config"]
    rel = next(r["model"] for r in train_report["detectors"] if r["config"] == best and r["seed"] == 0)
    served = mlflow.pyfunc.load_model(f"models:/{name}@challenger").predict(serving_frame(schema, valid))
    expected = predict_scores(load_detector(root / "models/detectors" / rel), schema.to_model_frame(valid))
    np.testing.assert_allclose(served["score"], expected)
    assert list(served.columns) == ["score", "decision", "reasons"]
    assert {"serving.thresholds.alert", "serving.test_decisions.review.rows"} <= set(parent.data.metrics)
    # each feature's missing share in training, keyed by a metric-safe name (not under serving.thresholds)
    assert "serving.training_missing.tx_amount" in parent.data.metrics
    assert not any(k.startswith("serving.thresholds.training_missing") for k in parent.data.metrics)

    # publishing the same results again creates no new runs
    n_before = len(client.search_runs([exp.experiment_id]))
    assert main(["--root", str(root), "publish"]) == 0
    assert len(client.search_runs([exp.experiment_id])) == n_before
    capsys.readouterr()


def test_second_publish_moves_challenger_never_champion(small_reports, mlflow_server, tracking_env, tmp_path):
    root, _ = small_reports
    root = _copy(root, tmp_path / "proj2", name="second")
    tracking_env(mlflow_server)
    assert main(["--root", str(root), "publish"]) == 0
    # a changed result (different params hash) is a new execution
    text = (root / "params.yaml").read_text()
    assert "n_jobs: 1" in text
    (root / "params.yaml").write_text(text.replace("n_jobs: 1", "n_jobs: 2"))
    assert main(["--root", str(root), "publish"]) == 0
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    name = "model-second"
    assert client.get_model_version_by_alias(name, "challenger").version == "2"
    assert len(client.search_model_versions(f"name = '{name}'")) == 2
    with pytest.raises(Exception, match="champion"):
        client.get_model_version_by_alias(name, "champion")


def test_dead_server_fails_in_one_line_and_keeps_outputs(small_reports, tracking_env, tmp_path, capsys):
    from tests.integration.conftest import free_port

    root, _ = small_reports
    root = _copy(root, tmp_path / "proj3")
    before = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    (root / "params.yaml").write_text(
        (root / "params.yaml").read_text().replace("retry_wait_s: 2.0", "retry_wait_s: 0.1")
    )
    uri = f"http://127.0.0.1:{free_port()}"
    tracking_env(uri)
    code = main(["--root", str(root), "publish"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and uri in err and "MLFLOW_TRACKING_URI" in err
    after = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert after == before  # nothing lost, nothing half-written
    assert not (root / "reports/mlflow.json").exists()


def test_notebook_runs_against_server(small_reports, mlflow_server, tracking_env, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    from tests.helpers import ROOT

    root, _ = small_reports
    tracking_env(mlflow_server)
    # make sure the server holds at least one parent run
    proj = _copy(root, tmp_path / "proj4", name="notebook")
    assert main(["--root", str(proj), "publish"]) == 0
    nb = nbformat.read(ROOT / "notebooks" / "01-compare-runs.ipynb", as_version=4)
    os.environ["FRAUD_PIPELINE_OUT"] = str(tmp_path)
    # run from the project: the notebook finds params.yaml there and reads its experiment name
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(proj)}}).execute()
    assert (tmp_path / "recall_vs_share_from_mlflow.png").exists()
