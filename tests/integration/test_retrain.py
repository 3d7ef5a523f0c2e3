"""Scheduled retraining: champion registration, promotion rules, lock, failures, kills, tracking down."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from pipeline import retrain
from pipeline.params import validate
from pipeline.paths import Paths
from pipeline.errors import LockError
from tests.integration.conftest import free_port
from tests.integration.project import env, make_project, sh, small_params

pytestmark = pytest.mark.slow


def _params():
    p = small_params()
    p["data"]["simulate"].update({"n_customers": 300, "n_terminals": 600, "n_days": 60})
    p["generators"] = {"gaussian_copula": {}}
    return p


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("retrain") / "proj", _params())


def _retrain(root, extra_env=None, check=False):
    return sh(root, sys.executable, "-m", "pipeline", "retrain", check=check, extra_env=extra_env)


def _audit(root):
    return retrain.read_audit(root / "reports/retrain/audit.jsonl")


def _client(root):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")


def _alias(root, alias):
    return str(_client(root).get_model_version_by_alias("fraud-detector", alias).version)


def _offset(root):
    return yaml.safe_load((root / "params.yaml").read_text())["data"]["simulate"]["day_offset"]


def test_1_first_run_registers_champion(proj):
    start = _offset(proj)
    r = _retrain(proj)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    last = _audit(proj)[-1]
    assert last["status"] == "ok" and last["decision"] == "first champion"
    assert last["champion_version"] == last["challenger_version"] == "1"
    assert _alias(proj, "champion") == "1"
    assert _offset(proj) == start + 30
    for k in ("time", "data_fingerprint", "champion_score", "challenger_score", "parent_run_id", "drift"):
        assert k in last


def test_2_second_run_compares_on_same_rows_and_records_drift(proj):
    r = _retrain(proj)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    last = _audit(proj)[-1]
    assert last["status"] == "ok"
    assert last["champion_version"] != last["challenger_version"]
    assert last["drift"]["available"] and "psi" in last["drift"] and "fraud_rate_change" in last["drift"]
    gain = last["challenger_score"] - last["champion_score"]
    if gain > last["margin"]:
        assert last["decision"] == "promoted challenger"
        assert _alias(proj, "champion") == last["challenger_version"]
    else:
        assert last["decision"] == "kept champion"
        assert _alias(proj, "champion") == "1"
    assert len(_client(proj).search_model_versions("name = 'fraud-detector'")) == 2  # old versions kept


def test_3_concurrent_retrain_exits_at_once(proj):
    lock = proj / "reports/retrain/retrain.lock"
    with retrain.exclusive_lock(lock):
        t0 = time.time()
        r = _retrain(proj)
        assert r.returncode == 3
        assert "another retrain" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert time.time() - t0 < 30
        with pytest.raises(LockError):
            with retrain.exclusive_lock(lock):
                pass


def test_4_pipeline_failure_keeps_champion_and_releases_lock(proj):
    champ = _alias(proj, "champion")
    good = (proj / "params.yaml").read_text()
    p = yaml.safe_load(good)
    p["split"]["min_frauds"] = 100000
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    r = _retrain(proj)
    assert r.returncode == 2 and r.stderr.strip().startswith("error:")
    last = _audit(proj)[-1]
    assert last["status"] == "failed" and "error" in last
    assert _alias(proj, "champion") == champ
    with retrain.exclusive_lock(proj / "reports/retrain/retrain.lock"):
        pass  # released
    failed_target = last["day_offset"]
    p = yaml.safe_load(good)
    p["data"]["simulate"]["day_offset"] = yaml.safe_load((proj / "params.yaml").read_text())["data"]["simulate"]["day_offset"]
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    r = _retrain(proj)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert _audit(proj)[-1]["day_offset"] == failed_target  # the retry used the same window


def test_5_killed_mid_run_then_rerun_completes(proj):
    champ = _alias(proj, "champion")
    n = len(_audit(proj))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "retrain"], cwd=proj, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(_audit(proj)) == n:
        time.sleep(0.2)
    time.sleep(4)  # inside dvc repro
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _alias(proj, "champion") == champ
    r = _retrain(proj)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    recs = _audit(proj)[n:]
    assert any(x["status"] == "failed" and "without finishing" in x.get("error", "") for x in recs)
    assert recs[-1]["status"] == "ok"


def test_5b_sigterm_stops_dvc_and_its_stage_and_records_failure(proj):
    import psutil

    champ = _alias(proj, "champion")
    n = len(_audit(proj))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "retrain"], cwd=proj, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    kids = []
    while time.time() < deadline:
        kids = psutil.Process(proc.pid).children(recursive=True)
        if len(kids) >= 2:  # dvc and the stage it runs
            break
        time.sleep(0.2)
    assert kids, "retrain never started dvc"
    os.kill(proc.pid, signal.SIGTERM)  # the retrain process only, not its group
    assert proc.wait(timeout=60) == 2
    gone, alive = psutil.wait_procs(kids, timeout=15)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"
    last = _audit(proj)[-1]
    assert len(_audit(proj)) > n and last["status"] == "failed" and "signal" in last["error"]
    assert _alias(proj, "champion") == champ
    with retrain.exclusive_lock(proj / "reports/retrain/retrain.lock"):
        pass


def test_6_tracking_server_down(proj):
    champ = _alias(proj, "champion")
    uri = f"http://127.0.0.1:{free_port()}"
    r = _retrain(proj, extra_env={"MLFLOW_TRACKING_URI": uri})
    assert r.returncode == 2
    last = _audit(proj)[-1]
    assert last["status"] == "failed"
    assert _alias(proj, "champion") == champ
    with retrain.exclusive_lock(proj / "reports/retrain/retrain.lock"):
        pass


class _FakeTracking:
    def __init__(self, champion, challenger):
        self.aliases = {"champion": champion, "challenger": challenger}
        self.promoted = []


@pytest.mark.parametrize("champ_score, chall_score, promoted", [(0.60, 0.70, True), (0.70, 0.60, False),
                                                                 (0.70, 0.705, False)])
def test_decision_rule(small_reports, monkeypatch, champ_score, chall_score, promoted, tmp_path):
    """Promote only when the challenger beats the champion by more than the margin (0.01)."""
    import shutil

    from pipeline import tracking

    root, params = small_reports
    root = shutil.copytree(root, tmp_path / "p")
    fake = _FakeTracking("1", "2")
    monkeypatch.setattr(tracking, "alias_version", lambda r, n, a, *x, **k: fake.aliases[a])
    monkeypatch.setattr(tracking, "load_registered", lambda r, n, a: a)
    monkeypatch.setattr(tracking, "promote", lambda r, n, v, *x, **k: fake.promoted.append(v))
    monkeypatch.setattr(retrain, "headline_recall",
                        lambda model, *a: {"champion": champ_score, "challenger": chall_score}[model])
    out = retrain._decide(Paths.at(root), validate(small_params()))
    assert out["decision"] == ("promoted challenger" if promoted else "kept champion")
    assert fake.promoted == (["2"] if promoted else [])
    assert out["champion_score"] == champ_score and out["challenger_score"] == chall_score
