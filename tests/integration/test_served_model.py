"""The registered detector behind a real `mlflow models serve --env-manager local` on 127.0.0.1.

Answers must equal the in-process `mlflow.pyfunc.load_model(...).predict`, bad requests must get a
4xx naming the problem, and after a promotion a new server for `@champion` serves the new version.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.ops.serving import serving_frame
from tests.helpers import base_params, csv_table, free_port, tabular_frame, wait_for_http, write_params
from tests.integration.project import env

pytestmark = pytest.mark.slow
NAME = "fraud-detector"


def _quiet(*argv: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(list(argv))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small CSV project with a categorical feature, run to the end and published to its own local store."""
    root = tmp_path_factory.mktemp("serving")
    (root / "data/raw").mkdir(parents=True)
    tabular_frame(3000, seed=4).to_csv(root / "data/raw/t.csv", index=False)
    p = base_params()
    p["evaluate"]["segments"] = ["channel"]  # a feature column of the CSV table
    p["data"].update(csv_table())
    write_params(root, p)
    old = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        for cmd in (
            ["prepare"],
            *[[s, g, "0"] for s in ("fit", "sample") for g in p["generators"]],
            ["train"],
            ["evaluate"],
            ["publish"],
        ):
            assert _quiet("--root", str(root), *cmd) == 0, cmd
    finally:
        if old is not None:
            os.environ["MLFLOW_TRACKING_URI"] = old
    return root


def _uri(root: Path) -> str:
    return f"sqlite:///{Paths.at(root).mlflow_db}"


@contextlib.contextmanager
def _server(root: Path, alias: str):
    port = free_port()
    e = env()
    e["MLFLOW_TRACKING_URI"] = _uri(root)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/{NAME}@{alias}",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=e,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/ping", proc, timeout=120)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _post(url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url + "/invocations", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _rows(root: Path, n: int = 25) -> pd.DataFrame:
    schema = Schema.load(Paths.at(root).schema)
    rows = serving_frame(schema, pd.read_parquet(Paths.at(root).split("test")).head(n))
    rows.loc[3, "channel"] = "never-seen-channel"  # an unseen category
    rows.loc[4, "channel"] = ""  # a missing one
    rows.loc[5, "amount"] = np.nan  # nulls in numerical features (JSON null), one of them an integer count
    rows.loc[6, "count"] = np.nan
    return rows


def _in_process(root: Path, version: str, rows: pd.DataFrame) -> pd.DataFrame:
    import mlflow.pyfunc

    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = _uri(root)
    try:
        return mlflow.pyfunc.load_model(f"models:/{NAME}/{version}").predict(rows)
    finally:
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old


def _payload(rows: pd.DataFrame) -> bytes:
    rows = rows.astype(object).where(rows.notna(), None)  # a missing number travels as JSON null
    return json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()


def test_served_champion_answers_like_the_model_in_process_and_rejects_bad_requests(project):
    from pipeline.ops import tracking

    tracking.set_alias(project, NAME, tracking.CHAMPION, "1", retries=0)  # what a first retrain does
    rows = _rows(project)
    expected = _in_process(project, "1", rows)
    with _server(project, "champion") as url:
        code, body = _post(url, _payload(rows))
        assert code == 200, body
        served = pd.DataFrame(body["predictions"])
        np.testing.assert_allclose(served["score"], expected["score"], rtol=1e-12)
        assert served["decision"].tolist() == expected["decision"].tolist()
        assert served["reasons"].tolist() == expected["reasons"].tolist()
        assert set(served["decision"]) <= {"alert", "review", "pass"}
        # serve.missing: review - a feature never missing in training: its null sends the row to review, named
        assert served.loc[4:6, "decision"].tolist() == ["review"] * 3
        assert served.loc[4:6, "reasons"].tolist() == ["missing: channel", "missing: amount", "missing: count"]
        # bad requests: 4xx with the problem named
        code, body = _post(url, _payload(rows.drop(columns="amount")))
        assert code == 400 and "missing inputs ['amount']" in body["message"]
        bad = rows.astype({"v1": object})
        bad.loc[0, "v1"] = "abc"
        code, body = _post(url, _payload(bad))
        assert code == 400 and "v1" in body["message"]
        code, body = _post(url, b"{not json")
        assert 400 <= code < 500


def test_after_a_promotion_a_new_server_serves_the_new_champion(project, tmp_path):
    from pipeline.ops import tracking

    # a second registered version built from another detector than the first (a baseline)
    paths = Paths.at(project)
    serving = json.loads(paths.serving.read_text())
    other = "reweight" if serving["best"]["config"] != "reweight" else "baseline"
    train_report = json.loads(paths.train_report.read_text())
    rec = next(r for r in train_report["detectors"] if r["config"] == other and r["seed"] == 0)
    saved = paths.serving.read_text()
    paths.serving.write_text(
        json.dumps({**serving, "best": {**serving["best"], "config": other, "model": rec["model"]}})
    )
    params = paths.params.read_text()
    paths.params.write_text(params.replace("n_jobs: 1", "n_jobs: 2"))  # a new result: a new run and version
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline", "--root", str(project), "publish"],
            env=env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        paths.serving.write_text(saved)
        paths.params.write_text(params)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the serving input example validates against the signature: no warning about it
    assert "Failed to validate serving input example" not in proc.stderr + proc.stdout
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    new = tracking.alias_version(project, NAME, tracking.CHALLENGER, retries=0)
    assert new != "1"
    tracking.set_alias(project, NAME, tracking.CHAMPION, new, retries=0)  # what retrain does on promotion
    rows = _rows(project)
    expected_new, expected_old = _in_process(project, new, rows), _in_process(project, "1", rows)
    assert not np.allclose(expected_new["score"], expected_old["score"])
    with _server(project, "champion") as url:
        code, body = _post(url, _payload(rows))
    assert code == 200
    np.testing.assert_allclose(pd.DataFrame(body["predictions"])["score"], expected_new["score"], rtol=1e-12)
