"""pipeline.tracking on a local SQLite store (no server): where it logs, and how it fails."""

import pytest

from pipeline import tracking
from pipeline.errors import TrackingError
from pipeline.paths import Paths
from tests.helpers import free_port


@pytest.fixture
def no_uri(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_local_store_lives_under_the_project(tmp_path, no_uri):
    uri = tracking.tracking_uri(tmp_path)
    assert uri == f"sqlite:///{Paths.at(tmp_path).mlflow_db.resolve()}"
    art = tracking.default_artifact_location(tmp_path, uri)
    assert art == Paths.at(tmp_path).mlflow_artifacts.resolve().as_uri()
    assert tracking.default_artifact_location(tmp_path, "http://host:5000") is None  # a server decides


def test_env_uri_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert tracking.tracking_uri(tmp_path) == "http://tracking.example:5000"


def test_dead_server_is_one_line_naming_the_uri(tmp_path, monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(TrackingError) as e:
        tracking.connect(tmp_path, retries=1, wait_s=0.0)
    msg = str(e.value)
    assert uri in msg and "after 2 tries" in msg and "MLFLOW_TRACKING_URI" in msg and "\n" not in msg


def test_aliases_on_a_local_store(tmp_path, no_uri):
    client, _ = tracking.connect(tmp_path, retries=0)
    client.create_registered_model("m")
    assert tracking.alias_version(tmp_path, "m", tracking.CHAMPION, retries=0) is None


def test_flatten_keeps_finite_numbers_only():
    nested = {"a": {"b": 1, "c": float("nan"), "d": "text", "e": {"f": 2.5}}, "g": True}
    assert tracking._flatten(nested, "x.") == {"x.a.b": 1.0, "x.a.e.f": 2.5}
