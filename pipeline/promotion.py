"""Whether a challenger replaces the champion: one pure decision, no I/O.

`pipeline.retrain` gathers the scores (both detectors on the same new rows) and, when the decision
says so, moves the `champion` alias: nothing else in the pipeline moves it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    promote: bool
    text: str  # for the audit log and MLflow
    gain: float | None = None


def decide(champion_version: str | None, challenger_version: str, champion_score: float | None,
           challenger_score: float, margin: float, champion_error: str | None = None) -> Decision:
    """Promote when there is no champion yet, or when the challenger's headline recall beats the champion's,
    on the same rows, by more than `margin` (absolute). A champion that cannot score the new rows
    (`champion_error`) is kept: replacing it is a decision for a person."""
    if champion_version is None:
        return Decision(True, "first champion")
    if champion_version == challenger_version:
        return Decision(False, "challenger is already the champion")
    if champion_score is None:
        return Decision(False, f"kept champion: it cannot score the new data ({champion_error or 'unknown error'}); "
                               "promote by hand if intended")
    gain = round(challenger_score - champion_score, 6)
    if gain > margin:
        return Decision(True, "promoted challenger", gain)
    return Decision(False, "kept champion", gain)
