"""Drift of the training data against a reference profile (pure functions, no I/O).

`reference_profile(train, schema)` summarises a training split: the fraud rate, and per feature
the shares of rows in quantile bins (numerical) or per value (categorical). `drift(reference,
train, schema)` compares a new training split with it: the population stability index (PSI) per
feature and the change of the fraud rate. Retraining records it; a PSI above `PSI_DRIFT` marks a
feature that has moved materially.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PSI_DRIFT = 0.2  # a feature with PSI above this has moved materially


def reference_profile(train: pd.DataFrame, schema, bins: int = 10) -> dict[str, Any]:
    """Fraud rate, rows, and per feature its value shares (categorical) or quantile-bin shares (numerical)."""
    prof: dict[str, Any] = {"fraud_rate": float(train[schema.label].mean()), "rows": len(train), "features": {}}
    for f in schema.features:
        col = train[f.name]
        if f.is_categorical:
            share = col.astype(str).value_counts(normalize=True)
            prof["features"][f.name] = {"type": "categorical", "shares": share.round(6).to_dict()}
        else:
            vals = pd.to_numeric(col, errors="coerce").dropna().to_numpy(float)
            edges = np.unique(np.quantile(vals, np.linspace(0, 1, bins + 1))) if len(vals) else np.array([0.0])
            inner = edges[1:-1].tolist()
            counts = np.bincount(np.searchsorted(inner, vals, side="right"), minlength=len(inner) + 1)
            prof["features"][f.name] = {
                "type": "numerical",
                "edges": inner,
                "shares": (counts / max(len(vals), 1)).round(6).tolist(),
            }
    return prof


def _psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    e = np.clip(np.asarray(expected, float), eps, None)
    a = np.clip(np.asarray(actual, float), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift(reference: dict[str, Any] | None, train: pd.DataFrame, schema, basis: str = "champion") -> dict[str, Any]:
    """PSI per feature and fraud-rate change of `train` against `reference` (`basis` names what it profiles)."""
    if not reference:
        return {"available": False, "reason": "no reference profile of earlier training data"}
    now = reference_profile(train, schema)
    psi = {}
    for name, ref in reference["features"].items():
        if name not in now["features"]:
            continue
        if ref["type"] == "numerical":
            vals = pd.to_numeric(train[name], errors="coerce").dropna().to_numpy(float)
            counts = np.bincount(np.searchsorted(ref["edges"], vals, side="right"), minlength=len(ref["edges"]) + 1)
            psi[name] = round(_psi(ref["shares"], counts / max(len(vals), 1)), 6)
        else:
            cats = sorted(set(ref["shares"]) | set(now["features"][name]["shares"]))
            psi[name] = round(
                _psi(
                    np.array([ref["shares"].get(c, 0.0) for c in cats]),
                    np.array([now["features"][name]["shares"].get(c, 0.0) for c in cats]),
                ),
                6,
            )
    worst = max(psi.items(), key=lambda kv: kv[1]) if psi else (None, 0.0)
    return {
        "available": True,
        "reference": basis,
        "fraud_rate_reference": reference["fraud_rate"],
        "fraud_rate_now": now["fraud_rate"],
        "fraud_rate_change": round(now["fraud_rate"] - reference["fraud_rate"], 6),
        "psi": psi,
        "max_psi": worst[1],
        "max_psi_feature": worst[0],
        "drifted_features": sorted(k for k, v in psi.items() if v > PSI_DRIFT),
    }
