"""Every path of the project, built once; nothing else concatenates path strings.

The layout is the class `Paths`, in the order the stages write, so the whole tree can be read at a glance
(relative to the project root). `Paths.at(root).schema` is a file, `Paths.at(root).split("train")` a per-name
file, `Paths.at(root).pool("ctgan", 0)` a per-(generator, fit seed) file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class Paths:
    """Every path of the project under `root`: a property per file or folder, a method per file whose name has a
    part (a split, a generator name and fit seed)."""

    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> Paths:
        return cls(Path(root) if root is not None else Path.cwd())

    @property
    def params(self) -> Path:
        return self.root / PARAMS_FILE

    # prepare
    @property
    def prepared(self) -> Path:
        return self.root / "data/prepared"

    @property
    def schema(self) -> Path:
        return self.root / "data/prepared/schema.json"

    @property
    def profile(self) -> Path:
        return self.root / "data/prepared/profile.json"

    def split(self, name: str) -> Path:
        return self.root / f"data/prepared/{name}.parquet"

    # fit@G-F, sample@G-F: generator G fitted with fit seed F
    def generator_model(self, name: str, seed: int) -> Path:
        return self.root / f"models/generators/{name}/fit{seed}.pkl"

    def fit_report(self, name: str, seed: int) -> Path:
        return self.root / f"reports/generators/{name}/fit{seed}/fit.json"

    def quality_report(self, name: str, seed: int) -> Path:
        return self.root / f"reports/generators/{name}/fit{seed}/quality.json"

    def pools(self, name: str, seed: int) -> Path:
        return self.root / f"data/synthetic/{name}/fit{seed}"

    def pool(self, name: str, seed: int) -> Path:
        return self.root / f"data/synthetic/{name}/fit{seed}/pool.parquet"

    def targeted_pool(self, name: str, seed: int) -> Path:  # when augment.target is set
        return self.root / f"data/synthetic/{name}/fit{seed}/targeted.parquet"

    # train
    @property
    def detectors(self) -> Path:
        return self.root / "models/detectors"

    @property
    def train_report(self) -> Path:
        return self.root / "reports/train.json"

    # evaluate
    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def metrics(self) -> Path:
        return self.root / "reports/metrics.json"

    @property
    def comparison(self) -> Path:
        return self.root / "reports/comparison.csv"

    @property
    def comparison_segments(self) -> Path:
        return self.root / "reports/comparison_segments.csv"

    @property
    def summary(self) -> Path:
        return self.root / "reports/summary.md"

    @property
    def plots(self) -> Path:
        return self.root / "reports/plots"

    @property
    def plot_data(self) -> Path:
        return self.root / "reports/plot_data"

    @property
    def serving(self) -> Path:
        return self.root / "reports/serving.json"

    @property
    def review_queue(self) -> Path:
        return self.root / "reports/review_queue.csv"

    # the quality gate's pool-independent reference (real held-out frauds against the seed set), cached by what it
    # depends on: computed once for all the pools gated on the same rows
    @property
    def gate_cache(self) -> Path:
        return self.root / "data/cache/gate"

    # the scarcity sweep: its cells (cached by what they depend on) and its report
    @property
    def scarcity_cache(self) -> Path:
        return self.root / "data/cache/scarcity"

    @property
    def scarcity(self) -> Path:
        return self.root / "reports/scarcity"

    @property
    def scarcity_table(self) -> Path:
        return self.root / "reports/scarcity/scarcity.csv"

    @property
    def scarcity_summary(self) -> Path:
        return self.root / "reports/scarcity/summary.md"

    @property
    def scarcity_metrics(self) -> Path:
        return self.root / "reports/scarcity/metrics.json"

    @property
    def scarcity_plot(self) -> Path:
        return self.root / "reports/scarcity/lift_vs_n_frauds.png"

    @property
    def scarcity_exchange(self) -> Path:
        return self.root / "reports/scarcity/exchange.csv"

    @property
    def scarcity_exchange_plot(self) -> Path:
        return self.root / "reports/scarcity/exchange_rate.png"

    # unseen: leave-one-variant-out cells (cached by what they depend on) and the test's report
    @property
    def unseen_cache(self) -> Path:
        return self.root / "data/cache/unseen"

    @property
    def unseen(self) -> Path:
        return self.root / "reports/unseen"

    @property
    def unseen_table(self) -> Path:
        return self.root / "reports/unseen/unseen.csv"

    @property
    def unseen_summary(self) -> Path:
        return self.root / "reports/unseen/summary.md"

    @property
    def unseen_metrics(self) -> Path:
        return self.root / "reports/unseen/metrics.json"

    @property
    def unseen_plot(self) -> Path:
        return self.root / "reports/unseen/recall_on_unseen_variants.png"

    # redteam: attacker tactics applied to the test frauds
    @property
    def redteam(self) -> Path:
        return self.root / "reports/redteam"

    @property
    def redteam_table(self) -> Path:
        return self.root / "reports/redteam/redteam.csv"

    @property
    def redteam_summary(self) -> Path:
        return self.root / "reports/redteam/summary.md"

    @property
    def redteam_metrics(self) -> Path:
        return self.root / "reports/redteam/metrics.json"

    @property
    def redteam_plot(self) -> Path:
        return self.root / "reports/redteam/heatmap.png"

    # publish, and MLflow's local store (used when MLFLOW_TRACKING_URI is not set)
    @property
    def mlflow_report(self) -> Path:
        return self.root / "reports/mlflow.json"

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow/mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.root / "mlflow/artifacts"

    # retrain: profile of the data the current champion was trained on (drift reference); DVC's stage lock
    @property
    def champion_reference(self) -> Path:
        return self.root / "reports/retrain/champion_reference.json"

    @property
    def dvc_rwlock(self) -> Path:
        return self.root / ".dvc/tmp/rwlock"

    def under_root(self, relative: str | Path) -> Path:
        """A path given in params.yaml (relative to the project root, or absolute)."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p
