"""Compatibility only: the module path `pipeline.tracking` before the package was split into layers (issue 22).

A model registered earlier was logged "from code" with a copy of the old `pipeline/serving_model.py`, which runs
`from pipeline.tracking import set_serving_model`. When such a model (a `champion`, say) is loaded in a process that
already imports this package (`make retrain`), that name resolves here. New code imports `pipeline.ops.tracking` (runs,
registry) and `pipeline.ops.pyfunc` (the served model's class).
Remove this package once no model registered before the split is still loaded.
"""

from pipeline.ops.pyfunc import ServingModel, set_serving_model

__all__ = ["ServingModel", "set_serving_model"]
