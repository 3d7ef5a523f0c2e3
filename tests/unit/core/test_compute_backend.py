"""pipeline/core/compute.py without a cluster: scheduler resolution, when a cluster is started, in-process mapping.
The Dask paths run on real LocalClusters in tests/integration/test_compute.py."""

import pytest

from pipeline.config.params import validate
from pipeline.core import compute
from pipeline.core.compute import LOCAL, SEQUENTIAL, Backend, resolve
from pipeline.core.errors import ConfigError
from tests.helpers import base_params


def _params(**c):
    p = base_params()
    p["compute"].update(c)
    return validate(p)


def test_the_environment_address_replaces_local_only(monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.5:8786")
    assert resolve(_params(scheduler="local")) == ("tcp://10.0.0.5:8786", "DASK_SCHEDULER_ADDRESS")
    assert resolve(_params(scheduler="sequential")) == ("sequential", "compute.scheduler")
    assert resolve(_params(scheduler="tcp://other:1")) == ("tcp://other:1", "compute.scheduler")
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "10.0.0.5:8786")
    with pytest.raises(ConfigError, match="is not a Dask scheduler address; set it like tcp://host:8786"):
        resolve(_params(scheduler="local"))
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    assert resolve(_params(scheduler="local")) == ("local", "compute.scheduler")


@pytest.mark.parametrize(
    "value, message",
    [
        ("cluster", "must be 'local', 'sequential' or a Dask scheduler address"),
        ("tcp://", "must be 'local', 'sequential' or a Dask scheduler address"),
    ],
)
def test_bad_scheduler_values_are_named(value, message):
    with pytest.raises(ConfigError, match=rf"compute\.scheduler: {message}"):
        _params(scheduler=value)


def test_bad_memory_and_engine_without_cluster_are_named():
    with pytest.raises(ConfigError, match=r"compute\.worker_memory: must be a memory size like"):
        _params(worker_memory="lots")
    p = base_params()
    p["detector"]["engine"] = "dask"
    p["compute"]["scheduler"] = "sequential"
    with pytest.raises(ConfigError, match=r"detector\.engine: dask trains on a Dask cluster"):
        validate(p)


def test_when_a_cluster_is_used(monkeypatch):
    assert not Backend(SEQUENTIAL).uses_dask(1000)
    assert Backend("tcp://h:1").uses_dask(1)  # an existing cluster costs nothing to start
    monkeypatch.setattr(compute, "_cores", lambda: 2)
    assert not Backend(LOCAL, min_tasks=4).uses_dask(100)  # 2 cores: XGBoost's own threads use them
    assert Backend(LOCAL, workers=2, min_tasks=4).uses_dask(4)  # forced by compute.workers
    assert not Backend(LOCAL, workers=2, min_tasks=4).uses_dask(3)  # too few units to pay the start-up
    monkeypatch.setattr(compute, "_cores", lambda: 16)
    assert Backend(LOCAL, min_tasks=4).uses_dask(4) and Backend(LOCAL).workers == 16


def test_in_process_map_keeps_order_and_reports_each_result():
    seen = []
    out = Backend(SEQUENTIAL).map(_power, [3, 1, 2], {"p": 2}, on_result=lambda i, r: seen.append((i, r)))
    assert out == [9, 1, 4] and seen == [(0, 9), (1, 1), (2, 4)]
    assert compute.task_threads(2) == 2  # not on a Dask worker


def _power(x, *, p):
    return x**p


def test_compute_is_placement_not_a_recorded_param():
    from pipeline.config.recording import recording

    reads: set[str] = set()
    p = recording(_params(), reads)
    _ = p["compute"]["scheduler"], p["detector"]["engine"]
    assert reads == {"detector", "detector.engine"}


def test_workers_with_other_versions_or_code_are_named():
    from pipeline.core.compute import environment, mismatches

    here = environment()
    assert "pipeline code" in here and "xgboost-cpu" in here and "pandas" in here
    assert mismatches(here, {"tcp://a:1": dict(here), "tcp://b:1": dict(here)}) == []
    other = {**here, "xgboost-cpu": "3.0.0", "pipeline code": "0000"}
    del other["pandas"]
    got = mismatches(here, {"tcp://b:1": other, "tcp://a:1": dict(here)})
    assert got == [
        f"pandas missing on tcp://b:1 (here {here['pandas']})",
        f"pipeline code 0000 on tcp://b:1 (here {here['pipeline code']})",
        f"xgboost-cpu 3.0.0 on tcp://b:1 (here {here['xgboost-cpu']})",
    ]
