"""Shared fixtures."""

from __future__ import annotations

import os

# `make test` runs one pytest-xdist worker per core. OpenMP (XGBoost, torch) and BLAS start a thread per core in
# every process, and on a busy 2-core machine those threads stall on synchronisation: one thread each, here and
# in every stage process a test starts (they inherit the environment). Set before numpy or torch is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.helpers import write_params  # noqa: E402

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("DO_NOT_TRACK", "true")


@pytest.fixture
def project(tmp_path: Path):
    """A temporary project root with data/raw and a params.yaml factory."""
    (tmp_path / "data" / "raw").mkdir(parents=True)

    def make(params: dict) -> Path:
        write_params(tmp_path, params)
        return tmp_path

    return make
