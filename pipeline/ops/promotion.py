"""Whether a challenger replaces the champion: one pure decision with its guardrails, no I/O.

A challenger becomes the champion only if every check passes:

* `margin` - its headline recall beats the champion's, on the same new rows, by more than
  `retrain.margin` (absolute);
* `segments` - no fraud segment loses more than `retrain.max_segment_drop` recall against the
  champion (segments with too few frauds to judge are recorded, not checked);
* `pool` - the synthetic pool it was trained on passed the quality gate, unless
  `retrain.allow_flagged_pool: true` (a real-only challenger has no pool to check).
* `redteam` - under no red-team tactic (`redteam.tactics`, applied to the new test frauds) is its recall
  below the champion's by more than `retrain.max_redteam_drop` (absolute); no tactics: nothing to check.

With no champion yet, the margin, segment and red-team checks have nothing to compare with; the pool check
still applies, so a first champion is never crowned on a flagged pool unless allowed. A champion
that cannot score the new rows is kept: replacing it is a decision for a person.

`pipeline.ops.retrain` gathers the inputs and, when the decision says so, moves the `champion` alias:
nothing else in the pipeline moves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Decision:
    promote: bool
    text: str  # for the audit log and MLflow
    gain: float | None = None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, c in self.checks.items() if c.get("passed") is False]


def decide(
    champion_version: str | None,
    challenger_version: str,
    champion_score: float | None,
    challenger_score: float,
    margin: float,
    champion_error: str | None = None,
    segment_drops: dict[str, float | None] | None = None,
    max_segment_drop: float = 1.0,
    pool_flags: list[str] | None = None,
    allow_flagged_pool: bool = False,
    redteam_recalls: dict[str, tuple[float, float]] | None = None,
    max_redteam_drop: float = 1.0,
) -> Decision:
    """`segment_drops`: {segment: champion recall - challenger recall, or None when too few frauds to judge}.
    `pool_flags`: the quality-gate checks the challenger's pool failed (None: no synthetic pool).
    `redteam_recalls`: {tactic: (champion recall, challenger recall)} on the attacked new test frauds."""
    checks: dict[str, dict[str, Any]] = {}
    flags = list(pool_flags or [])
    checks["pool"] = {"passed": not flags or allow_flagged_pool, "flagged": flags, "allowed": allow_flagged_pool}
    if champion_version is None:
        if checks["pool"]["passed"]:
            return Decision(True, "first champion", None, checks)
        return Decision(False, _blocked("no champion crowned", checks), None, checks)
    if champion_version == challenger_version:
        return Decision(False, "challenger is already the champion", None, checks)
    if champion_score is None:
        return Decision(
            False,
            f"kept champion: it cannot score the new data ({champion_error or 'unknown error'}); "
            "promote by hand if intended",
            None,
            checks,
        )
    gain = round(challenger_score - champion_score, 6)
    checks["margin"] = {"passed": gain > margin, "gain": gain, "margin": margin}
    judged = {k: v for k, v in (segment_drops or {}).items() if v is not None}
    worst = max(judged.items(), key=lambda kv: kv[1]) if judged else (None, None)
    checks["segments"] = {
        "passed": all(v <= max_segment_drop for v in judged.values()),
        "max_drop": max_segment_drop,
        "worst_segment": worst[0],
        "worst_drop": worst[1],
        "too_few_to_judge": sorted(k for k, v in (segment_drops or {}).items() if v is None),
    }
    if redteam_recalls:
        drops = {t: round(champ - chall, 6) for t, (champ, chall) in redteam_recalls.items()}
        tactic = max(drops, key=lambda t: drops[t])  # the worst tactic (first listed on a tie)
        checks["redteam"] = {
            "passed": all(d <= max_redteam_drop for d in drops.values()),
            "max_drop": max_redteam_drop,
            "worst_tactic": tactic,
            "champion_recall": redteam_recalls[tactic][0],
            "challenger_recall": redteam_recalls[tactic][1],
            "drops": drops,
        }
    decision = Decision(False, "", gain, checks)
    if not decision.failed:
        return Decision(True, "promoted challenger", gain, checks)
    if decision.failed == ["margin"]:
        return Decision(False, "kept champion", gain, checks)
    return Decision(False, _blocked("kept champion", checks), gain, checks)


def _blocked(prefix: str, checks: dict[str, dict[str, Any]]) -> str:
    """`prefix: failed guardrails: ...` naming each failed check with its figures."""
    parts = []
    if checks.get("margin", {}).get("passed") is False:
        c = checks["margin"]
        parts.append(f"margin (gain {c['gain']:+.4f} not above {c['margin']})")
    if checks.get("segments", {}).get("passed") is False:
        c = checks["segments"]
        parts.append(f"segments ({c['worst_segment']!r} loses {c['worst_drop']:.4f} recall, more than {c['max_drop']})")
    if checks.get("redteam", {}).get("passed") is False:
        c = checks["redteam"]
        parts.append(
            f"redteam ({c['worst_tactic']!r}: challenger {c['challenger_recall']:.4f} vs champion "
            f"{c['champion_recall']:.4f}, more than {c['max_drop']} lower)"
        )
    if checks.get("pool", {}).get("passed") is False:
        parts.append(
            f"pool (flagged by the quality gate: {', '.join(checks['pool']['flagged'])}; "
            "set retrain.allow_flagged_pool: true to accept it)"
        )
    return f"{prefix}: failed guardrails: " + "; ".join(parts)
