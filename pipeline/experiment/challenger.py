"""Choosing on the VALIDATION rows, never the test rows: the best configuration (`best_config`), whether a
configuration may be registered (`admission`: a baseline, or an augmented configuration whose pool passed the gate
and which beats real-only on validation beyond noise), and THE challenger `publish` registers (`challenger_config`).
`compare` records each configuration's admission in the comparison table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.formats import signed
from pipeline.experiment.grid import AUGMENTED, BASELINE, REWEIGHT


def admission(row: pd.Series, valid_diff_lo: float | None, ci: float) -> tuple[bool, str]:
    """May this configuration be registered as the challenger, and why (not). A baseline may; an augmented
    configuration only when its synthetic pool passed the quality gate (no gate report: not shown to pass) AND it
    beats the real-only baseline on the validation frauds beyond noise: the lower bound of the paired bootstrap
    interval of its validation recall difference, at the Bonferroni-adjusted level `ci`, above 0."""
    if row["kind"] == BASELINE:
        return True, "the real-only baseline"
    if row["kind"] == REWEIGHT:
        return True, "a baseline (real rows, scale_pos_weight)"
    passed = row.get("quality_passed", np.nan)
    gate = passed is True or passed is np.True_
    if not gate:
        flagged = str(row.get("quality_failed_checks", "") or "").replace(" ", ", ")
        reason = (
            f"its pool was flagged by the quality gate ({flagged})"
            if flagged
            else "its pool has no quality-gate report"
        )
        return False, reason
    beats = valid_diff_lo is not None and np.isfinite(valid_diff_lo) and valid_diff_lo > 0
    level = f"{ci * 100:.4g}%"
    if not beats:
        return False, (
            f"its pool passed the gate, but it does not beat real-only on validation beyond noise "
            f"({level} interval of the recall difference reaches {signed(valid_diff_lo)})"
        )
    return True, (
        f"its pool passed the quality gate and it beats real-only on validation beyond noise "
        f"({level} interval of the recall difference from {signed(valid_diff_lo)})"
    )


def best_config(table: pd.DataFrame, kinds: tuple[str, ...] = (BASELINE, REWEIGHT, AUGMENTED)) -> pd.Series:
    """The configuration with the highest mean headline recall on the VALIDATION rows (then validation
    PR-AUC); ties go to the simpler configuration (baseline first). Chosen without looking at test rows,
    so its test figures are an unbiased estimate and retraining can compare it fairly."""
    cand = table[table["kind"].isin(kinds)].copy()
    order = {BASELINE: 0, REWEIGHT: 1, AUGMENTED: 2}
    cand["_o"] = cand["kind"].map(order)
    cand = cand.sort_values(
        ["valid_recall_mean", "valid_pr_auc_mean", "_o", "share"], ascending=[False, False, True, True]
    )
    return cand.iloc[0]


def challenger_config(table: pd.DataFrame) -> pd.Series:
    """THE choice of the detector `publish` registers as the challenger (and `evaluate` sets serving thresholds
    for): the best admissible configuration on the VALIDATION rows (`best_config` among the rows `compare` marked
    `admissible`: a baseline, or an augmented configuration whose pool passed the gate and which beats real-only on
    validation beyond noise). The real-only baseline is always admissible, so there is always one."""
    admissible = table[table["admissible"].astype(bool)] if "admissible" in table else table
    return best_config(admissible)
