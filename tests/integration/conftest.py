"""Fixtures for integration tests: a tiny pipeline run in-process, and a real MLflow server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config.params import validate
from pipeline.core.paths import Paths
from tests.helpers import free_port, wait_for_http  # noqa: F401 - free_port re-exported for the integration tests
from tests.integration.project import env, small_params


@pytest.fixture(scope="session", autouse=True)
def warm_start():
    """The stages of every `dvc repro` these tests run start as forks of one warm-start server per pytest worker
    (`pipeline/core/warmstart.py`, as `make run` does): sdv/torch/MLflow are imported once, not in every stage.
    `test_dvc_pipeline.py::test_rerun_gives_identical_comparison` reruns cold and proves the same results."""
    from pipeline.core import warmstart

    proc, path = warmstart.start_server(env=env())
    os.environ[warmstart.SOCKET_ENV] = path
    yield path
    os.environ.pop(warmstart.SOCKET_ENV, None)
    warmstart.stop_server(proc, path)


def run_stages(root: Path, params: dict) -> Paths:
    """prepare -> fit -> sample -> train -> unseen -> evaluate, in-process (no MLflow)."""
    from pipeline.stages import evaluate, fit, prepare, sample, train, unseen

    params = validate(params)
    paths = Paths.at(root)
    (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
    prepare.run(params, paths)
    for g in params["generators"]:
        for f in params["augment"]["fit_seeds"]:
            fit.run(params, paths, g, f)
            sample.run(params, paths, g, f)
    train.run(params, paths)
    if params["data"]["source"] == "simulated":  # unseen.column fraud_scenario: a column of the simulated data
        unseen.run(params, paths)
    evaluate.run(params, paths)
    return paths


@pytest.fixture(scope="session")
def small_reports(tmp_path_factory):
    """A project root holding real reports from a tiny pipeline run, plus its params."""
    root = tmp_path_factory.mktemp("reports")
    params = validate(small_params())
    import yaml

    (root / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    run_stages(root, params)
    return root, params


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 (free port, SQLite, temporary artifacts); stopped by PID in teardown."""
    d = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    e = env()
    e["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    log = open(d / "server.log", "w")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{d / 'mlflow.db'}",
            "--artifacts-destination",
            str(d / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=e,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(uri + "/health", proc, timeout=90)
    except RuntimeError as e:
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError(f"mlflow server: {e}: {(d / 'server.log').read_text()[-3000:]}") from None
    yield uri
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()
