"""The experimental grid: the arms (configurations) that are trained and compared.

An arm's `kind`: `baseline` (real rows only, share 0), `reweight` (real rows only, XGBoost
scale_pos_weight = n_legit / n_fraud) or `augmented` (generator G at synthetic share s > 0).
Every arm is trained once per detector seed. `id` (e.g. `ctgan@0.5`) names it in files; `title`
(e.g. `ctgan @ 50%`) in reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BASELINE, REWEIGHT, AUGMENTED = "baseline", "reweight", "augmented"


@dataclass(frozen=True)
class Arm:
    kind: str
    generator: str | None = None
    share: float = 0.0

    @property
    def id(self) -> str:
        if self.kind != AUGMENTED:
            return self.kind
        return f"{self.generator}@{self.share:g}"

    @property
    def title(self) -> str:
        """Human name, e.g. 'ctgan @ 50%', 'real-only baseline'."""
        if self.kind == BASELINE:
            return "real-only baseline"
        if self.kind == REWEIGHT:
            return "reweight baseline"
        return f"{self.generator} @ {self.share * 100:g}%"

    @property
    def dirname(self) -> str:
        return self.id.replace("@", "__s")


def build_grid(
    pools: Sequence[str], shares: Sequence[float], excluded: set[str] | frozenset = frozenset()
) -> list[Arm]:
    """The baselines, then every pool not excluded (in the order given: `experiment.plan` lists each generator's,
    then the targeted ones) at each synthetic share above 0."""
    grid = [Arm(BASELINE), Arm(REWEIGHT)]
    for name in pools:
        if name in excluded:
            continue
        for s in shares:
            if s > 0:
                grid.append(Arm(AUGMENTED, name, float(s)))
    return grid
