"""The registered serving model as MLflow sees it: `ServingModel`, a pyfunc around `pipeline.ops.serving.Scorer`,
and `set_serving_model`, which `pipeline/ops/serving_model.py` (the code file MLflow runs when it loads the model)
calls. Loading a served model needs this module and `serving`, not the runs and registry code of
`pipeline.ops.tracking`, which logs and registers it (`_log_model`)."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow.models  # noqa: E402
import mlflow.pyfunc  # noqa: E402
from mlflow.pyfunc.model import PythonModel  # noqa: E402


class ServingModel(PythonModel):
    """The registered model: raw feature rows in (the user's column names, categoricals as strings); score,
    decision (alert | review | pass) and reasons out. All the logic is `pipeline.ops.serving.Scorer`; a request it
    cannot score becomes an MLflow error with the reason, which `mlflow models serve` answers with HTTP 400."""

    def load_context(self, context):
        from pipeline.ops.serving import Scorer

        a = context.artifacts
        self.scorer = Scorer.from_files(a["model"], a["schema"], a["thresholds"])

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from pipeline.ops.serving import ServingInputError

        try:
            return self.scorer.predict(model_input)
        except ServingInputError as e:
            raise MlflowException(str(e), error_code=INVALID_PARAMETER_VALUE) from None


def set_serving_model() -> None:
    """Called by `pipeline/ops/serving_model.py` when MLflow loads the model from code."""
    mlflow.models.set_model(ServingModel())
