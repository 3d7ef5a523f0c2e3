"""The code of the registered serving model (MLflow "models from code"): MLflow runs this file when it loads
the model. The model itself is `pipeline.tracking.ServingModel`; its logic is `pipeline.serving.Scorer`."""

from pipeline.tracking import set_serving_model

set_serving_model()
