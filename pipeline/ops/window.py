"""The retrain's data window: which simulated `day_offset` comes next, and writing it into `params.yaml`.

Pure but for `set_offset`, which edits one key of the params file and keeps everything else (comments included).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core.files import atomic_path


def target_offset(params: dict, audit: list[dict], advance_days: int) -> int | None:
    """The simulated window's next `day_offset` (None for a file source). After a failed or killed
    attempt the same target is retried, so a crash never skips a window."""
    if params["data"]["source"] != "simulated":
        return None
    last = audit[-1] if audit else None
    if last and last.get("status") in ("failed", "started") and last.get("day_offset") is not None:
        return int(last["day_offset"])
    return int(params["data"]["simulate"]["day_offset"]) + advance_days


def set_offset(params_path: Path, offset: int) -> None:
    """Set data.simulate.day_offset in params.yaml through one YAML round trip that keeps comments."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(params_path.read_text())
    data.setdefault("data", {}).setdefault("simulate", {})["day_offset"] = int(offset)
    with atomic_path(params_path) as tmp, open(tmp, "w") as fh:
        yaml.dump(data, fh)
