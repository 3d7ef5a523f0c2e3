"""Blend real training rows with synthetic fraud rows.

Synthetic share `s` = the fraction of FRAUD rows in the blended training set that are
synthetic: n_synthetic = round(n_real_fraud * s / (1 - s)), 0 <= s < 1. s = 0 is the
real-only baseline; s = 0.5 means half the fraud rows are synthetic. Legitimate rows are
never changed. Synthetic rows are marked in the column `SYNTHETIC` so tests can prove they
never reach validation or test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, DataError

SYNTHETIC = "is_synthetic"


def n_synthetic(n_real_fraud: int, share: float) -> int:
    """Number of synthetic fraud rows for synthetic share `share` (see module docstring)."""
    if not (0.0 <= share < 1.0):
        raise ConfigError(f"synthetic share must be in [0, 1), got {share}; fix augment.shares in params.yaml")
    if n_real_fraud < 0:
        raise ValueError("n_real_fraud must be >= 0")
    return int(round(n_real_fraud * share / (1.0 - share)))


def blend(real_train: pd.DataFrame, pool: pd.DataFrame, share: float, seed: int, label: str) -> pd.DataFrame:
    """Real training rows plus synthetic fraud rows drawn from `pool` without replacement.

    Returns a new frame: all real rows (SYNTHETIC = 0) followed by the drawn synthetic rows
    (label 1, SYNTHETIC = 1). Columns not in the pool (ids, time, meta) are missing for synthetic rows.
    """
    n_fraud = int(real_train[label].sum())
    n = n_synthetic(n_fraud, share)
    real = real_train.copy()
    real[SYNTHETIC] = 0
    if n == 0:
        return real.reset_index(drop=True)
    if len(pool) < n:
        raise DataError(
            f"synthetic pool has {len(pool)} rows but share {share} needs {n} "
            f"(n_real_fraud={n_fraud}); rerun the sample stage for the largest share in augment.shares")
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(pool), size=n, replace=False))
    syn = pool.iloc[take].copy()
    if SYNTHETIC in syn.columns:
        syn = syn.drop(columns=[SYNTHETIC])
    syn[label] = 1
    syn[SYNTHETIC] = 1
    out = pd.concat([real, syn], axis=0, ignore_index=True)
    return out
