"""The compute backend on real Dask LocalClusters (started and closed by the tests): every backend gives identical
results, the dask engine trains on Parquet parts, a killed worker is survived, a dead cluster is one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.config.params import validate
from pipeline.core.paths import Paths
from tests.helpers import base_params, csv_table, free_port, write_params
from tests.integration.project import env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def forkserver_workers():
    """Worker processes of the LocalClusters started here (by the tests and by the stages' `local` scheduler) fork
    from one process that imported their libraries once, instead of each starting Python and importing them (Dask's
    default, `spawn`, which `make run` keeps): 285 -> 153 CPU seconds for this file, run alone. The results are the same by the
    tests' own checks (byte-identical detectors and tables across backends)."""
    import multiprocessing.forkserver

    import dask
    from distributed.utils import get_mp_context

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        ctx = get_mp_context()  # Dask's own preload list (distributed, numpy, pandas, ...), then the units' modules
        dask_preload = list(multiprocessing.forkserver._forkserver._preload_modules)
        ctx.set_forkserver_preload([*dask_preload, "xgboost", "sklearn.metrics", "pipeline.experiment.detector"])
        yield


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded worker processes, as a user's existing cluster would be."""
    from distributed import Client, LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(c)
    yield c, client
    client.close()
    c.close()


def _params(**compute) -> dict:
    p = base_params()
    p["detector"]["seeds"] = [0, 1, 2]
    p["compute"].update(compute)
    return p


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    """A project root after prepare, fit and sample (sequential), to copy for each backend."""
    from pipeline.stages import fit, prepare, sample

    root = tmp_path_factory.mktemp("compute_sampled")
    params = validate(_params())
    (root / "data" / "raw").mkdir(parents=True)
    paths = Paths.at(root)
    prepare.run(params, paths)
    for g in params["generators"]:
        fit.run(params, paths, g, 0)
        sample.run(params, paths, g, 0)
    return root


def _copy(src: Path, dst: Path, params: dict) -> Path:
    shutil.copytree(src, dst)
    write_params(dst, params)
    return dst


def _train_evaluate(root: Path, params: dict) -> Paths:
    from pipeline.stages import evaluate, train

    params = validate(params)
    paths = Paths.at(root)
    train.run(params, paths)
    evaluate.run(params, paths)
    return paths


def _models(paths: Paths) -> dict[str, bytes]:
    return {p.relative_to(paths.detectors).as_posix(): p.read_bytes() for p in sorted(paths.detectors.rglob("*.json"))}


def test_every_backend_gives_byte_identical_results(sampled, tmp_path, cluster, capsys):
    """sequential, a LocalCluster started by the stage (`local`) and an existing cluster by address: the same
    comparison.csv, segment table and detector files, byte for byte."""
    _, client = cluster
    runs = {}
    for name, compute in {
        "sequential": {"scheduler": "sequential"},
        "local": {"scheduler": "local", "workers": 2, "min_tasks": 2},
        "address": {"scheduler": client.scheduler.address},
    }.items():
        paths = _train_evaluate(_copy(sampled, tmp_path / name, _params(**compute)), _params(**compute))
        runs[name] = paths
    out = capsys.readouterr().out
    assert "compute: 12 detectors, Dask LocalCluster, 2 workers x 1 thread" in out
    assert f"compute: 12 detectors, Dask cluster at {client.scheduler.address}" in out
    assert "compute: 12 detectors, in this process" in out
    ref = runs["sequential"]
    for name, paths in runs.items():
        assert paths.comparison.read_bytes() == ref.comparison.read_bytes(), name
        assert paths.comparison_segments.read_bytes() == ref.comparison_segments.read_bytes(), name
        assert _models(paths) == _models(ref), name
        assert len(_models(paths)) == 12


def test_local_scheduler_runs_few_units_in_process(sampled, tmp_path, capsys):
    params = _params(scheduler="local", min_tasks=100)
    _train_evaluate(_copy(sampled, tmp_path / "p", params), params)
    out = capsys.readouterr().out
    assert "in this process (fewer than compute.min_tasks = 100 detectors: no cluster started)" in out


def _cli(root: Path, *args: str, extra_env: dict | None = None, **kw) -> subprocess.Popen:
    e = env()
    e.update(extra_env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--root", str(root), *args],
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[str, str]:
    """The process's (stdout, stderr); killed if it runs past `timeout` (a hang fails the test)."""
    try:
        return proc.communicate(timeout=timeout)
    finally:
        proc.kill()


def test_bad_scheduler_address_is_one_line_exit_2(sampled, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    params = _params(scheduler=address, connect_timeout_s=1.0)
    root = _copy(sampled, tmp_path / "p", params)
    before = _models(Paths.at(root)) if Paths.at(root).detectors.exists() else {}
    t0 = time.monotonic()
    proc = _cli(root, "train")
    out, err = _finish(proc)
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith(f"error: cannot reach a Dask scheduler at {address}"), err
    assert "Traceback" not in err
    assert time.monotonic() - t0 < 60
    assert not Paths.at(root).train_report.exists()
    assert (_models(Paths.at(root)) if Paths.at(root).detectors.exists() else {}) == before

    # the environment variable replaces `local`, and a malformed one is named
    params = _params(scheduler="local", connect_timeout_s=1.0)
    write_params(root, params)
    proc = _cli(root, "train", extra_env={"DASK_SCHEDULER_ADDRESS": address})
    _, err = _finish(proc)
    assert proc.returncode == 2 and f"cannot reach a Dask scheduler at {address} (from DASK_SCHEDULER_ADDRESS)" in err
    proc = _cli(root, "train", extra_env={"DASK_SCHEDULER_ADDRESS": "localhost"})
    _, err = _finish(proc)
    assert proc.returncode == 2 and err.strip() == (
        "error: DASK_SCHEDULER_ADDRESS='localhost' is not a Dask scheduler "
        "address; set it like tcp://host:8786 or unset it"
    )


def test_a_worker_killed_mid_run_is_recovered_with_identical_results(sampled, tmp_path):
    """The test kills one worker process while the train stage runs on its cluster: Dask reruns the lost unit on
    a worker (the nanny restarts the killed one) and the stage's detectors are those of a sequential run."""
    from distributed import Client, LocalCluster

    slow = {"seeds": [0, 1, 2, 3], "n_estimators": 250, "early_stopping_rounds": 250}
    ref_params = _params(scheduler="sequential")
    ref_params["detector"].update(slow)
    ref = _copy(sampled, tmp_path / "ref", ref_params)
    from pipeline.stages import train

    train.run(validate(ref_params), Paths.at(ref))

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c,
        Client(c) as client,
    ):
        params = _params(scheduler=client.scheduler.address)
        params["detector"].update(slow)
        root = _copy(sampled, tmp_path / "p", params)
        proc = _cli(root, "train")
        killed = None
        try:
            for line in proc.stdout:  # wait until units are running, then kill a worker mid-unit
                if line.startswith("train [2/"):
                    pids = client.run(os.getpid)
                    killed = sorted(pids.values())[0]
                    os.kill(killed, signal.SIGKILL)
                    break
            out, err = proc.communicate(timeout=300)  # a hang fails the test here
        finally:
            proc.kill()
        assert killed is not None, err
        assert proc.returncode == 0, err
        assert "train [16/16]" in out
        assert killed not in client.run(os.getpid).values()
    assert _models(Paths.at(root)) == _models(Paths.at(ref))


def test_workers_that_keep_dying_fail_the_stage_with_one_line(cluster):
    from pipeline.core.compute import Backend, ComputeError

    _, client = cluster
    backend = Backend(client.scheduler.address)
    with pytest.raises(ComputeError) as e, backend:
        backend.map(_die, [1, 2, 3], what="detector", name=lambda i: f"#{i}")
    msg = str(e.value)
    assert msg.startswith("detector #") and "died 4 times (killed or out of memory)" in msg
    assert "nothing was written" in msg and "\n" not in msg
    client.wait_for_workers(2, timeout=300)  # the nannies restart them (slow when busy)


def _die(_item):
    os._exit(1)


def test_a_failing_unit_leaves_the_previous_detectors_whole(sampled, tmp_path, monkeypatch):
    """Detectors are written only when every unit succeeded: a failure halfway leaves the last complete set."""
    from pipeline.core.errors import DataError
    from pipeline.stages import train

    params = _params(scheduler="sequential")
    root = _copy(sampled, tmp_path / "p", params)
    paths = Paths.at(root)
    train.run(validate(params), paths)
    before, report = _models(paths), paths.train_report.read_bytes()
    calls = []
    real = train.train_detector

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 5:
            raise DataError("boom")
        return real(*a, **kw)

    monkeypatch.setattr(train, "train_detector", flaky)
    params["detector"]["seeds"] = [7, 8, 9]
    with pytest.raises(DataError):
        train.run(validate(params), paths)
    assert _models(paths) == before and paths.train_report.read_bytes() == report
    assert not [p for p in paths.detectors.parent.iterdir() if p.name.startswith(".")]


def test_dask_engine_on_parquet_parts_matches_the_pandas_engine(tmp_path, cluster):
    """detector.engine: dask trains with xgboost.dask on a split written as several Parquet parts of a user's CSV
    with numeric and categorical features (native categories on every worker); its headline recall is within 0.1
    of the single-process detectors' (same seeds; xgboost.dask builds its histograms from per-worker quantile
    sketches, so trees differ slightly). (The built-in data, numeric only, is the easier case.)"""
    from tests.helpers import tabular_frame
    from tests.integration.conftest import run_stages

    _, client = cluster
    roots = {}
    for engine in ("xgboost", "dask"):
        p = base_params()
        p["data"]["partition_rows"] = 3000
        p["generators"] = {"smote": {"k_neighbors": 5}}
        p["detector"].update({"engine": engine, "seeds": [0, 1, 2], "n_estimators": 150, "early_stopping_rounds": 20})
        p["compute"]["scheduler"] = client.scheduler.address if engine == "dask" else "sequential"
        root = tmp_path / engine
        (root / "data" / "raw").mkdir(parents=True)
        tabular_frame(n=24000, fraud_rate=0.03, seed=3).to_csv(root / "data" / "raw" / "t.csv", index=False)
        p["data"].update(csv_table())
        p["evaluate"]["segments"] = []
        write_params(root, p)
        roots[engine] = run_stages(root, p)
    parts = sorted(roots["dask"].split("train").glob("part-*.parquet"))
    assert len(parts) >= 3
    assert len(pd.read_parquet(roots["dask"].split("train"))) == sum(len(pd.read_parquet(q)) for q in parts)
    schema = yaml.safe_load(roots["dask"].schema.read_text())
    assert any(f["type"] == "categorical" for f in schema["features"])
    report = yaml.safe_load(roots["dask"].train_report.read_text())
    assert report["engine"] == "dask" and len(report["detectors"]) == 3 * 3
    tables = {e: pd.read_csv(paths.comparison).set_index("config") for e, paths in roots.items()}
    assert list(tables["dask"].index) == list(tables["xgboost"].index)
    for config in tables["xgboost"].index:
        a, b = tables["xgboost"].loc[config, "recall"], tables["dask"].loc[config, "recall"]
        assert abs(a - b) <= 0.1, (config, a, b)
    assert np.isfinite(tables["dask"]["recall"]).all()


def test_a_cluster_without_workers_is_one_line_not_a_hang():
    """At connection (no worker ever came) and mid-run (every worker gone, none back): one line, within seconds."""
    import threading

    from distributed import LocalCluster

    from pipeline.core.compute import Backend, ComputeError

    with LocalCluster(n_workers=0, processes=True, dashboard_address=":0") as c:
        with (
            pytest.raises(ComputeError, match=r"^the Dask cluster at tcp://\S+ has no workers \(waited 1s\); start"),
            Backend(c.scheduler_address, connect_timeout_s=1.0) as backend,
        ):
            backend.map(_sleep, [1, 2], what="detector")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        backend = Backend(c.scheduler_address, connect_timeout_s=1.0)
        backend.client.wait_for_workers(1, timeout=300)
        threading.Timer(1.5, lambda: c.scale(0)).start()
        t0 = time.monotonic()
        with pytest.raises(ComputeError, match=r"has had no workers for \d+s while detectors were waiting"), backend:
            backend.map(_sleep, [30, 30, 30], what="detector")
        assert time.monotonic() - t0 < 30


def _sleep(seconds):
    time.sleep(seconds)
    return seconds


def test_out_of_core_evaluate_gives_the_pandas_paths_reports(tmp_path, cluster, capsys):
    """The same detectors evaluated on a split written as Parquet parts, in this process (every score held) and out
    of core (`detector.engine: dask`: the workers score the parts, only fraud scores, top legit scores and counts come
    back): the same comparison to the last bit but PR-AUC and ROC-AUC (summed in another order: within 1e-12), and
    byte-identical segment table, DVC metrics, summary, serving thresholds and review queue."""
    from pipeline.stages import evaluate

    _, client = cluster
    p = _params(scheduler="sequential")
    p["data"]["partition_rows"] = 4000
    src = _copy_trained(tmp_path / "pandas", p)
    parts = sorted(Paths.at(src).split("test").glob("part-*.parquet"))
    assert len(parts) >= 2
    ooc = tmp_path / "ooc"
    shutil.copytree(src, ooc)
    report = json.loads(Paths.at(ooc).train_report.read_text())
    report["engine"] = "dask"  # the same model files, evaluated as the dask engine's are
    Paths.at(ooc).train_report.write_text(json.dumps(report))
    p["compute"]["scheduler"] = client.scheduler.address
    capsys.readouterr()
    evaluate.run(validate(p), Paths.at(ooc))
    assert "only fraud scores and the top legit scores come back" in capsys.readouterr().out

    a, b = Paths.at(src), Paths.at(ooc)
    for path in ("comparison_segments", "metrics", "summary", "serving", "review_queue"):
        assert getattr(a, path).read_bytes() == getattr(b, path).read_bytes(), path
    assert len(pd.read_csv(a.review_queue)) > 0
    x, y = pd.read_csv(a.comparison), pd.read_csv(b.comparison)
    assert list(x.columns) == list(y.columns)
    areas = [c for c in x.columns if c.startswith(("pr_auc", "roc_auc", "valid_pr_auc"))]
    pd.testing.assert_frame_equal(x.drop(columns=areas), y.drop(columns=areas), check_exact=True)
    pd.testing.assert_frame_equal(x[areas], y[areas], check_exact=False, rtol=1e-12)


def _copy_trained(root: Path, params: dict) -> Path:
    """A project root after prepare, fit, sample, train and evaluate (sequential) with `params`."""
    from pipeline.stages import evaluate, fit, prepare, sample, train

    params = validate(params)
    (root / "data" / "raw").mkdir(parents=True)
    write_params(root, params)
    paths = Paths.at(root)
    prepare.run(params, paths)
    for g in params["generators"]:
        fit.run(params, paths, g, 0)
        sample.run(params, paths, g, 0)
    train.run(params, paths)
    evaluate.run(params, paths)
    return root
