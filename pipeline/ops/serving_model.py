"""The code of the registered serving model (MLflow "models from code"): MLflow runs this file when it loads
the model. The model itself is `pipeline.ops.pyfunc.ServingModel`; its logic is `pipeline.ops.serving.Scorer`."""

from pipeline.ops.pyfunc import set_serving_model

set_serving_model()
