"""How numbers are written in reports and console lines (one place, so every report reads alike)."""

from __future__ import annotations

import math
from typing import Any


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def num(x: Any, digits: int = 3) -> str:
    """`0.123`, or `n/a` for None, NaN and inf."""
    return f"{float(x):.{digits}f}" if _finite(x) else "n/a"


def pct(x: Any) -> str:
    """A signed whole percentage of a fraction (`+3%`), or `n/a`."""
    return f"{float(x) * 100:+.0f}%" if _finite(x) else "n/a"


def signed(x: Any, digits: int = 2) -> str:
    """A signed number (`+0.05`), or `n/a`."""
    return f"{float(x):+.{digits}f}" if _finite(x) else "n/a"


def percent(x: Any, digits: int = 1) -> str:
    """An unsigned percentage of a fraction (`0.52%`), or `n/a`."""
    return f"{float(x) * 100:.{digits}f}%" if _finite(x) else "n/a"
