"""Blend real training rows with synthetic fraud rows.

Synthetic share `s` = the fraction of FRAUD rows in the blended training set that are
synthetic: n_synthetic = round(n_real_fraud * s / (1 - s)), 0 <= s < 1. s = 0 is the
real-only baseline; s = 0.5 means half the fraud rows are synthetic. Legitimate rows are
never changed. Which rows are synthetic is returned as a separate boolean mask, never as a
column: a marker column could collide with a user column of the same name (a user's predictive
`is_synthetic` flag would be overwritten and fake a verdict).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError


def n_synthetic(n_real_fraud: int, share: float) -> int:
    """Number of synthetic fraud rows for synthetic share `share` in [0, 1) (validated in `pipeline.config.params`)."""
    return int(round(n_real_fraud * share / (1.0 - share)))


def pool_seed(sample_seed: int, fit_seed: int) -> int:
    """The seed a pool is sampled with: its own per generator fit (augment.fit_seeds), so that several fits also
    cover sampling randomness - the only randomness of generators whose fit is deterministic (GaussianCopula,
    the SMOTE family). Fit seed 0 samples with `sample_seed` itself."""
    return int(sample_seed) + 1_000_003 * int(fit_seed)


def draw_synthetic(pool: pd.DataFrame, n_fraud: int, share: float, seed: int, label: str) -> pd.DataFrame:
    """The synthetic fraud rows (label 1) a blend at `share` adds to a training set holding `n_fraud` real frauds:
    n_synthetic(n_fraud, share) rows of `pool`, drawn without replacement with `seed`, in pool order."""
    n = n_synthetic(n_fraud, share)
    if len(pool) < n:
        raise DataError(
            f"synthetic pool has {len(pool)} rows but share {share} needs {n} "
            f"(n_real_fraud={n_fraud}); rerun the sample stage for the largest share in augment.shares"
        )
    if n == 0:
        return pool.iloc[:0].assign(**{label: pd.Series(dtype="int64")})
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(pool), size=n, replace=False))
    syn = pool.iloc[take].copy()
    syn[label] = 1
    return syn


def blend(
    real_train: pd.DataFrame, pool: pd.DataFrame, share: float, seed: int, label: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """Real training rows plus synthetic fraud rows drawn from `pool` without replacement (`draw_synthetic`).

    Returns (rows, synthetic): a new frame of all real rows followed by the drawn synthetic rows
    (label 1), and a boolean array marking the synthetic ones. Columns not in the pool (ids, time,
    meta) are missing for synthetic rows; the user's columns are never added to or overwritten.
    """
    n_fraud = int(real_train[label].sum())
    real = real_train.reset_index(drop=True)
    if n_synthetic(n_fraud, share) == 0:
        return real.copy(), np.zeros(len(real), dtype=bool)
    syn = draw_synthetic(pool, n_fraud, share, seed, label)
    out = pd.concat([real, syn], axis=0, ignore_index=True)
    return out, np.r_[np.zeros(len(real), dtype=bool), np.ones(len(syn), dtype=bool)]
