"""Reading what earlier stages reported (shared by the stages that read them; stages never import each other)."""

from __future__ import annotations

from typing import Any

from pipeline.io import read_json
from pipeline.paths import Paths


def load_generator_reports(names: list[str], paths: Paths, report: str) -> dict[str, dict]:
    """{generator: its `fit` or `quality` report} for the named generators that have one."""
    if report not in ("fit", "quality"):
        raise ValueError(f"report must be 'fit' or 'quality', got {report!r}")
    files = {n: paths.fit_report(n) if report == "fit" else paths.quality_report(n) for n in names}
    return {n: read_json(p) for n, p in files.items() if p.exists()}


def failed_checks(quality_report: dict[str, Any]) -> list[str]:
    """Names of the gate checks a quality report failed (checks not evaluated do not fail)."""
    return [name for name, c in (quality_report.get("checks") or {}).items() if c.get("passed") is False]
