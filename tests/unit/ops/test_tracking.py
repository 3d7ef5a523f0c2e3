"""pipeline.ops.tracking on a local SQLite store (no server): where it logs, and how it fails."""

import pytest

from pipeline.core.errors import TrackingError
from pipeline.core.paths import Paths
from pipeline.ops import tracking
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


def test_connecting_to_one_project_does_not_send_the_next_one_to_its_store(tmp_path, no_uri):
    """MLflow 3's set_tracking_uri writes MLFLOW_TRACKING_URI; connect puts the variable back, so a second project
    connected in the same process (a notebook, a test session) gets its own store, not the first one's."""
    import os

    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    old_global = tracking_utils._tracking_uri
    try:
        _, first = tracking.connect(tmp_path / "a", retries=0)
        assert "MLFLOW_TRACKING_URI" not in os.environ and mlflow.get_tracking_uri() == first
        _, second = tracking.connect(tmp_path / "b", retries=0)
        assert second == f"sqlite:///{Paths.at(tmp_path / 'b').mlflow_db.resolve()}" != first
        assert mlflow.get_tracking_uri() == second
    finally:
        tracking_utils._tracking_uri = old_global


def test_a_user_set_uri_is_kept_in_the_environment(tmp_path, monkeypatch):
    import os

    from mlflow.tracking._tracking_service import utils as tracking_utils

    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    old_global = tracking_utils._tracking_uri
    try:
        assert tracking.connect(tmp_path / "a", retries=0)[1] == uri
        assert os.environ["MLFLOW_TRACKING_URI"] == uri
    finally:
        tracking_utils._tracking_uri = old_global


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


def test_serving_signature_takes_prepared_rows_and_nulls_in_integer_features():
    """MLflow 3's schema enforcement: `double` refuses int64, `long` refuses a null; integer features are `any`."""
    import numpy as np
    import pandas as pd
    from mlflow.models import validate_schema

    from pipeline.data.contract import infer_schema
    from pipeline.ops.serving import serving_frame
    from tests.helpers import tabular_frame

    df = tabular_frame(200, seed=3).drop(columns="Time")
    schema = infer_schema(df, "Class")
    assert schema.feature("count").is_integer and not schema.feature("amount").is_integer
    sig = tracking.serving_signature(schema)
    types = {c["name"]: c["type"] for c in sig.inputs.to_dict()}
    assert types == {"amount": "double", "v1": "double", "count": "any", "channel": "string"}
    assert [c.name for c in sig.outputs.inputs] == ["score", "decision", "reasons"]
    prepared = schema.conform(df)  # count as int64, as in the prepared splits
    assert prepared["count"].dtype == "int64"
    with_nulls = prepared.astype({"count": "Int64", "channel": object})
    with_nulls.loc[0, "count"] = pd.NA
    with_nulls.loc[1, ["amount", "v1", "channel"]] = [np.nan, np.nan, None]
    for rows in (prepared, with_nulls, serving_frame(schema, with_nulls), prepared.astype({"count": "float64"})):
        validate_schema(rows, sig.inputs)
