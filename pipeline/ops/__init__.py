"""Operations around the experiment: MLflow tracking and the model registry (the only place MLflow is imported),
the served model (`serving`: thresholds, decisions, reasons; `serving_model`: the code MLflow loads), scheduled
retraining with its promotion decision, drift and audit log.

May import: `core`, `data`, `generators`, `quality`, `experiment`, `reporting`, `config`. Never `stages`.
"""
