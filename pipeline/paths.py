"""Every path of the project, built once; nothing else concatenates path strings.

The layout is one table (`LAYOUT`, relative to the project root; `{name}` is a generator name or
a split), so the whole tree can be read at a glance. `Paths.at(root).schema` is a file,
`Paths.at(root).split("train")` a per-name file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PARAMS_FILE = "params.yaml"

LAYOUT: dict[str, str] = {
    "params": PARAMS_FILE,
    # prepare
    "prepared": "data/prepared",
    "schema": "data/prepared/schema.json",
    "profile": "data/prepared/profile.json",
    "split": "data/prepared/{name}.parquet",
    # fit@G, sample@G
    "generator_model": "models/generators/{name}.pkl",
    "generator_reports": "reports/generators/{name}",
    "fit_report": "reports/generators/{name}/fit.json",
    "quality_report": "reports/generators/{name}/quality.json",
    "pool": "data/synthetic/{name}.parquet",
    # train
    "detectors": "models/detectors",
    "train_report": "reports/train.json",
    # evaluate
    "reports": "reports",
    "metrics": "reports/metrics.json",
    "comparison": "reports/comparison.csv",
    "comparison_segments": "reports/comparison_segments.csv",
    "summary": "reports/summary.md",
    "plots": "reports/plots",
    "plot_data": "reports/plot_data",
    "serving": "reports/serving.json",
    "review_queue": "reports/review_queue.csv",
    # publish, and MLflow's local store (used when MLFLOW_TRACKING_URI is not set)
    "mlflow_report": "reports/mlflow.json",
    "mlflow_dir": "mlflow",
    "mlflow_db": "mlflow/mlflow.db",
    "mlflow_artifacts": "mlflow/artifacts",
    # retrain: profile of the data the current champion was trained on (drift reference); DVC's stage lock
    "champion_reference": "reports/retrain/champion_reference.json",
    "dvc_rwlock": ".dvc/tmp/rwlock",
}


@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> "Paths":
        return cls(Path(root) if root is not None else Path.cwd())

    def __getattr__(self, key: str):
        """`paths.schema` -> a Path; `paths.split` -> a function of the name (`paths.split("train")`)."""
        if key not in LAYOUT:
            raise AttributeError(key)
        template = LAYOUT[key]
        if "{name}" in template:
            return lambda name: self.root / template.format(name=name)
        return self.root / template

    def under_root(self, relative: str | Path) -> Path:
        """A path given in params.yaml (relative to the project root, or absolute)."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p
