"""`params.yaml`: the one spec (`params.SPEC`) of every parameter's default and check, the loader and validation.
It sits above `data` and `generators` because it checks against them (generator names and hyperparameters, the
simulator's limits, compute scheduler addresses).

May import: `core`, `data`, `generators`. Imported by `cli`, `ops` (retraining) and tests; the stages get params
already validated.
"""
