"""Reading what earlier stages reported (shared by the stages that read them; stages never import each other)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.core.files import read_json
from pipeline.core.paths import Paths
from pipeline.generators.targeting import split_name

#: quality-report numbers averaged over a generator's fits when it has several
_MEAN_KEYS = (
    "quality_score",
    "exact_copy_share",
    "dcr_ratio",
    "detection_auc",
    "detection_auc_real_reference",
    "detection_auc_excess",
    "detection_auc_excess_lo",
    "detection_auc_excess_hi",
    "quality_score_real_reference",
    "quality_score_drop",
    "column_shapes",
    "column_pair_trends",
    "fit_seconds",
)


def load_generator_reports(names: list[str], paths: Paths, report: str, fit_seeds: list[int]) -> dict[str, dict]:
    """{generator: its `fit` or `quality` report} for the named generators whose every fit has one. A targeted
    pool (`smote+target`) has its generator's fit report and the `targeted` part of its quality report.

    With one fit seed this is that fit's report unchanged. With several, the reports are merged (`merge_fits`):
    a pool passes the gate only if every fit's pool passes."""
    if report not in ("fit", "quality"):
        raise ValueError(f"report must be 'fit' or 'quality', got {report!r}")
    where = paths.fit_report if report == "fit" else paths.quality_report
    out = {}
    for n in names:
        generator, targeted = split_name(n)  # a targeted pool's gate is in its generator's quality report
        files = [where(generator, f) for f in fit_seeds]
        if not all(p.exists() for p in files):
            continue
        reports = [read_json(p) for p in files]
        if targeted and report == "quality":
            if not all("targeted" in r for r in reports):
                continue
            reports = [r["targeted"] for r in reports]
        out[n] = merge_fits(reports, list(fit_seeds))
    return out


def merge_fits(reports: list[dict[str, Any]], fit_seeds: list[int]) -> dict[str, Any]:
    """One report for a generator fitted with several seeds: the first fit's report with the gate's numbers
    averaged, `passed` true only when every fit passed, each check failed when any fit failed it (its value the
    mean), and every fit's own report under `per_fit`."""
    if len(reports) == 1:
        return reports[0]
    out = dict(reports[0])
    for key in _MEAN_KEYS:
        values = [v for v in (r.get(key) for r in reports) if isinstance(v, (int, float))]
        if len(values) == len(reports):
            out[key] = float(np.mean(values))
    if any("passed" in r for r in reports):
        out["passed"] = all(r.get("passed", True) for r in reports)
    checks: dict[str, dict] = {}
    for name in reports[0].get("checks") or {}:
        each = [(r.get("checks") or {}).get(name) or {} for r in reports]
        values = [v for v in (c.get("value") for c in each) if isinstance(v, (int, float))]
        checks[name] = {
            **each[0],
            "value": float(np.mean(values)) if values else None,
            "passed": (
                None if all(c.get("passed") is None for c in each) else all(c.get("passed") is not False for c in each)
            ),
        }
    if checks:
        out["checks"] = checks
    out["fit_seeds"] = list(fit_seeds)
    out["per_fit"] = {str(f): r for f, r in zip(fit_seeds, reports)}
    return out


def failed_checks(quality_report: dict[str, Any]) -> list[str]:
    """Names of the gate checks a quality report failed (checks not evaluated do not fail)."""
    return [name for name, c in (quality_report.get("checks") or {}).items() if c.get("passed") is False]


#: the quality gate's verdicts on a pool (`status` in a quality report, set by `pipeline.quality.gate.assess_pool`):
#: flagged when a check fails; "not enough held-out frauds" when none fails but the calibrated checks could not be
#: measured for want of real held-out frauds (reported, not flagged); passed otherwise
STATUS_PASSED, STATUS_FLAGGED, STATUS_TOO_FEW = "passed", "flagged", "not enough held-out frauds"


def gate_status(quality_report: dict[str, Any]) -> str:
    """The gate's verdict on a pool: "flagged" when a check failed, else the report's status ("passed", or "not
    enough held-out frauds" when the calibrated checks could not be measured)."""
    return STATUS_FLAGGED if failed_checks(quality_report) else quality_report.get("status") or STATUS_PASSED


def gate_threshold(quality: dict[str, dict], check: str) -> float | None:
    """The threshold the quality gate applied for `check` (from the reports, so readers need no quality params)."""
    for report in quality.values():
        threshold = ((report.get("checks") or {}).get(check) or {}).get("threshold")
        if threshold is not None:
            return threshold
    return None


def first_paragraph(path) -> str | None:
    """The first paragraph after a Markdown report's title (its headline sentence), or None without the report."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        return None
    paragraphs = [p.strip() for p in path.read_text().split("\n\n") if p.strip()]
    body = [p for p in paragraphs if not p.startswith("#")]
    return " ".join(body[0].split()) if body else None
