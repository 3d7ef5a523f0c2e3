"""Build a small throw-away copy of the project in a temporary git repo for real `dvc repro` runs."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import yaml

from tests.helpers import ROOT, base_params

BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.update(
        {
            "DVC_NO_ANALYTICS": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "GIT_AUTHOR_NAME": "test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
        }
    )
    e.pop("MLFLOW_TRACKING_URI", None)
    e.pop("DASK_SCHEDULER_ADDRESS", None)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    return e


def sh(
    cwd: Path, *cmd: str, check: bool = True, extra_env: dict | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    e = env()
    if extra_env:
        e.update(extra_env)
    proc = subprocess.run(list(cmd), cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def small_params() -> dict:
    p = base_params()
    p["generators"] = {"gaussian_copula": {}, "smote": {"k_neighbors": 5}}
    p["augment"]["shares"] = [0.0, 0.5]
    p["detector"]["seeds"] = [0, 1]
    return p


def blank_tracking_store() -> Path:
    """An empty MLflow SQLite store with every schema migration applied, made once per MLflow version (and user) and
    copied into projects: a store's first use runs MLflow's schema migrations, about 19 s of a 30 s publish on 2
    cores. The first-use path itself stays tested: `test_dvc_pipeline.py`'s project starts without a store, as
    `make run` does."""
    cache = Path(tempfile.gettempdir()) / f"pipeline-tests-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    db = cache / f"mlflow-{metadata.version('mlflow')}.db"
    with open(cache / "store.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # pytest-xdist workers build it once between them
        if not db.exists():
            tmp = db.with_name(db.name + ".tmp")
            tmp.unlink(missing_ok=True)
            code = (
                "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; "
                "SqlAlchemyStore('sqlite:///' + sys.argv[1], sys.argv[2])"
            )
            subprocess.run([sys.executable, "-c", code, str(tmp), str(cache / "artifacts")], check=True, env=env())
            os.replace(tmp, db)
    return db


def make_project(dest: Path, params: dict | None = None, tracking_store: bool = True) -> Path:
    """Copy the code, dvc.yaml and .dvc config into `dest`, write params, git init + commit. With `tracking_store`,
    the project starts with an empty MLflow store (`blank_tracking_store`)."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "pipeline", dest / "pipeline", ignore=ignore)
    for f in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / f, dest / f)
    (dest / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    shutil.copy(ROOT / ".dvc" / ".gitignore", dest / ".dvc" / ".gitignore")
    (dest / "data" / "raw").mkdir(parents=True)
    (dest / "data" / "raw" / "README.md").write_text("raw data\n")
    (dest / "params.yaml").write_text(yaml.safe_dump(params or small_params(), sort_keys=False))
    if tracking_store:
        (dest / "mlflow").mkdir()
        shutil.copy(blank_tracking_store(), dest / "mlflow" / "mlflow.db")
    sh(dest, "git", "init", "-q")
    sh(dest, "git", "add", "-A")
    sh(dest, "git", "commit", "-qm", "init")
    return dest
