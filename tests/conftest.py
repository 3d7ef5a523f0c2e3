"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import write_params

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
