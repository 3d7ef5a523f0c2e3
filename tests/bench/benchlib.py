"""Small helpers shared by the benchmark scripts (load, contention, environment, versions)."""

from __future__ import annotations

import os
from importlib import metadata


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def busy_cpu_s() -> float:
    """Machine-wide busy CPU seconds so far (all cores; idle and iowait excluded)."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def child_env() -> dict[str, str]:
    """Environment for benchmark subprocesses: bytecode allowed, no telemetry or analytics."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for p in packages:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out
