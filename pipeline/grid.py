"""The experimental grid: which detector configurations are trained and compared.

Kinds: `baseline` (real rows only, share 0), `reweight` (real rows only, XGBoost
scale_pos_weight = n_legit / n_fraud) and `augmented` (generator G at synthetic share s > 0).
Every configuration is trained once per detector seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BASELINE, REWEIGHT, AUGMENTED = "baseline", "reweight", "augmented"


@dataclass(frozen=True)
class Config:
    kind: str
    generator: str | None = None
    share: float = 0.0

    @property
    def id(self) -> str:
        if self.kind != AUGMENTED:
            return self.kind
        return f"{self.generator}@{self.share:g}"

    @property
    def label(self) -> str:
        """Human name, e.g. 'ctgan @ 50%', 'real-only baseline'."""
        if self.kind == BASELINE:
            return "real-only baseline"
        if self.kind == REWEIGHT:
            return "reweight baseline"
        return f"{self.generator} @ {self.share * 100:g}%"

    @property
    def dirname(self) -> str:
        return self.id.replace("@", "__s")


def build_grid(params: dict[str, Any], excluded: set[str] | frozenset = frozenset()) -> list[Config]:
    grid = [Config(BASELINE), Config(REWEIGHT)]
    for name in params["generators"]:
        if name in excluded:
            continue
        for s in params["augment"]["shares"]:
            if s > 0:
                grid.append(Config(AUGMENTED, name, float(s)))
    return grid
