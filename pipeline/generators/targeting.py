"""Targeted generation (`augment.target`): how many synthetic rows each fraud segment gets.

A targeted pool is drawn segment by segment (`Generator.sample_targeted`): SDV models condition on the
segment's value, oversamplers oversample each segment's seed rows on their own. Its size is that of the
untargeted pool; only the mix changes:

* `balance`: the synthetic rows top up the segments with the fewest seed frauds first (water-filling), so
  real + synthetic rows per segment come as close to equal as the pool size allows;
* `weights`: rows in proportion to `{value: weight}` (values left out get none).

A targeted pool is named `<generator>+target` in the comparison (e.g. `smote+target@0.5`), beside the
untargeted `<generator>@0.5`, and gets overall and segment verdicts like any other configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pipeline.core.errors import ConfigError
from pipeline.data.segments import MISSING_SEGMENT as MISSING

SUFFIX = "+target"


def targeted_name(generator: str) -> str:
    return generator + SUFFIX


def split_name(pool_name: str) -> tuple[str, bool]:
    """`smote+target` -> ("smote", True); `smote` -> ("smote", False)."""
    if pool_name.endswith(SUFFIX):
        return pool_name[: -len(SUFFIX)], True
    return pool_name, False


def pool_names(params: Mapping[str, Any]) -> list[str]:
    """Every pool the train stage blends: each generator's, then each generator's targeted pool (when
    augment.target is set)."""
    names = list(params["generators"])
    return names + ([targeted_name(g) for g in names] if params["augment"]["target"] else [])


def allocate(seed_counts: dict[str, int], n: int, target: dict[str, Any]) -> dict[str, int]:
    """Rows per segment value for a targeted pool of n rows (see the module doc); sums to n."""
    values = [v for v in seed_counts if v != MISSING]
    column = target["column"]
    if not values:
        raise ConfigError(f"augment.target.column {column!r} is missing in every seed fraud; choose another column")
    if target["policy"] == "weights":
        unknown = [v for v in target["weights"] if v not in seed_counts or v == MISSING]
        if unknown:
            raise ConfigError(
                f"augment.target.weights names {', '.join(map(repr, unknown))}, which no seed fraud has "
                f"in {column} (values: {', '.join(values)}); fix the weights"
            )
        w = np.array([target["weights"].get(v, 0.0) for v in values], dtype=float)
        quotas = n * w / w.sum()
    else:
        c = np.array([seed_counts[v] for v in values], dtype=float)
        order = np.sort(c)
        level = order[-1] + (n - (order[-1] * len(c) - c.sum())) / len(c)  # every segment above the largest
        for k in range(1, len(c)):
            candidate = (n + order[:k].sum()) / k  # fill the k smallest to a common level
            if candidate <= order[k]:
                level = candidate
                break
        quotas = np.maximum(0.0, level - c)
    return dict(zip(values, _largest_remainder(quotas, n)))


def _largest_remainder(quotas: np.ndarray, n: int) -> list[int]:
    base = np.floor(quotas + 1e-9).astype(int)
    rest = n - int(base.sum())
    if rest > 0:
        frac = quotas - base
        for i in sorted(range(len(quotas)), key=lambda i: (-frac[i], i))[:rest]:
            base[i] += 1
    return [int(x) for x in base]
