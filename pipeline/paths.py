"""Every path of the project, built once; nothing else concatenates path strings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> "Paths":
        return cls(Path(root) if root is not None else Path.cwd())

    @property
    def params(self) -> Path:
        return self.root / PARAMS_FILE

    # prepare
    @property
    def prepared(self) -> Path:
        return self.root / "data" / "prepared"

    def split(self, name: str) -> Path:
        return self.prepared / f"{name}.parquet"

    @property
    def schema(self) -> Path:
        return self.prepared / "schema.json"

    @property
    def profile(self) -> Path:
        return self.prepared / "profile.json"

    # generators
    def generator_model(self, name: str) -> Path:
        return self.root / "models" / "generators" / f"{name}.pkl"

    def generator_reports(self, name: str) -> Path:
        return self.root / "reports" / "generators" / name

    def fit_report(self, name: str) -> Path:
        return self.generator_reports(name) / "fit.json"

    def quality_report(self, name: str) -> Path:
        return self.generator_reports(name) / "quality.json"

    def pool(self, name: str) -> Path:
        return self.root / "data" / "synthetic" / f"{name}.parquet"

    # detectors
    @property
    def detectors(self) -> Path:
        return self.root / "models" / "detectors"

    @property
    def train_report(self) -> Path:
        return self.root / "reports" / "train.json"

    # evaluate
    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics.json"

    @property
    def comparison(self) -> Path:
        return self.reports / "comparison.csv"

    @property
    def summary(self) -> Path:
        return self.reports / "summary.md"

    @property
    def plots(self) -> Path:
        return self.reports / "plots"

    # publish
    @property
    def mlflow_report(self) -> Path:
        return self.reports / "mlflow.json"

    @property
    def plot_data(self) -> Path:
        return self.reports / "plot_data"

    # MLflow's local store (used when MLFLOW_TRACKING_URI is not set)
    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def mlflow_db(self) -> Path:
        return self.mlflow_dir / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.mlflow_dir / "artifacts"

    # retraining
    def under_root(self, relative: str | Path) -> Path:
        """A path given in params.yaml (relative to the project root, or absolute)."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    @property
    def champion_reference(self) -> Path:
        """Profile of the data the current champion was trained on (drift reference)."""
        return self.reports / "retrain" / "champion_reference.json"
