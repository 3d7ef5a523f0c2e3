"""The experiment's plan: which pools exist, which are left out and why, the arms, the generator fit seeds and the
detector seeds - built once, by the train stage, and handed down.

`build_plan` is the one place the pools are enumerated (each generator's, then its targeted pool: see
`generators.targeting`) and the exclusions decided (a targeted pool the generator could not make; with
`quality.exclude_failed`, a pool that failed the gate). The train stage records the plan in `train_report.json`
(`Plan.record`: the keys `generators`, `excluded_generators`, `shares`, `fit_seeds`, `seeds`), and every later reader -
scoring, evaluate, publish - takes it back from there with `Plan.from_report`, so the detectors compared are exactly
those trained, even if params changed since.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.core.errors import DataError
from pipeline.core.paths import Paths
from pipeline.experiment.grid import AUGMENTED, Arm, build_grid
from pipeline.generators.targeting import pool_names
from pipeline.quality.reports import failed_checks, load_generator_reports

#: one detector to train: (arm, generator fit seed or None for the baselines, detector seed)
Unit = tuple[Arm, int | None, int]


@dataclass(frozen=True)
class Plan:
    pools: tuple[str, ...]  # every pool the sample stages made, in grid order
    shares: tuple[float, ...]  # augment.shares as given (0 is the baselines' share)
    fit_seeds: tuple[int, ...]
    seeds: tuple[int, ...]  # detector seeds
    excluded: Mapping[str, str] = field(default_factory=dict)  # pool -> why it is not blended

    @property
    def arms(self) -> list[Arm]:
        """Both baselines, then every pool not excluded at each share above 0."""
        return build_grid(self.pools, self.shares, excluded=set(self.excluded))

    @property
    def blended_pools(self) -> list[str]:
        """The pools some arm blends (the train stage reads only these)."""
        used = {a.generator for a in self.arms if a.kind == AUGMENTED}
        return [p for p in self.pools if p in used]

    def units(self) -> list[Unit]:
        """Every detector: each arm at each generator fit (baselines: none) and each detector seed."""
        return [
            (arm, f if arm.kind == AUGMENTED else None, seed)
            for arm in self.arms
            for f in (self.fit_seeds if arm.kind == AUGMENTED else (None,))
            for seed in self.seeds
        ]

    @property
    def first_fit(self) -> int:
        return min(self.fit_seeds)

    @property
    def first_seed(self) -> int:
        return min(self.seeds)

    def record(self) -> dict[str, Any]:
        """The plan's part of train_report.json."""
        return {
            "excluded_generators": dict(self.excluded),
            "seeds": list(self.seeds),
            "fit_seeds": list(self.fit_seeds),
            "shares": list(self.shares),
            "generators": list(self.pools),
        }

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> Plan:
        """The plan the train stage recorded (`record`) in train_report.json."""
        return cls(
            pools=tuple(report["generators"]),
            shares=tuple(report["shares"]),
            fit_seeds=tuple(report["fit_seeds"]),
            seeds=tuple(report["seeds"]),
            excluded=dict(report.get("excluded_generators") or {}),
        )


def build_plan(params: Mapping[str, Any], paths: Paths) -> Plan:
    """The plan for these params, with the exclusions read from the sample stages' quality reports."""
    plan = Plan(
        pools=tuple(pool_names(params)),
        shares=tuple(float(s) for s in params["augment"]["shares"]),
        fit_seeds=tuple(params["augment"]["fit_seeds"]),
        seeds=tuple(params["detector"]["seeds"]),
    )
    return replace(
        plan, excluded=excluded_pools(plan, params["generators"], paths, params["quality"]["exclude_failed"])
    )


def excluded_pools(plan: Plan, generators: Mapping[str, Any], paths: Paths, exclude_failed: bool) -> dict[str, str]:
    """Pools left out of training, with the reason: a targeted pool the generator could not make, and (when
    quality.exclude_failed is true) pools that failed the quality gate (any fit's pool)."""
    for name in generators:
        for f in plan.fit_seeds:
            if not paths.quality_report(name, f).exists():
                raise DataError(
                    f"{paths.quality_report(name, f)} not found; run the sample stage for {name} "
                    f"(dvc repro sample@{name}-{f})"
                )
    out = {}
    for name, report in load_generator_reports(list(plan.pools), paths, "quality", list(plan.fit_seeds)).items():
        failed = [r["failed"] for r in (report.get("per_fit") or {"": report}).values() if r.get("failed")]
        if failed:  # a targeted pool the generator could not make (sample@G-F said why)
            out[name] = "could not be sampled: " + failed[0]
        elif exclude_failed and not report.get("passed", True):
            out[name] = "failed quality checks: " + ", ".join(failed_checks(report))
    return out
