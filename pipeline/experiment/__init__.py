"""The experiment: blending real and synthetic rows, the grid of configurations, XGBoost detectors (in process or
with `xgboost.dask`), scoring, metrics and paired bootstrap CIs, the comparison and its verdicts, and the
scarcity sweep, the unseen-variant test and the red team with the cells they share.

May import: `core`, `data`, `generators`, `quality`. Never `ops` (MLflow, serving, retraining), `reporting`,
`config` or `stages`: the experiment gets its params as a validated mapping and returns tables.
"""
