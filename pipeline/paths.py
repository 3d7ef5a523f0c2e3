"""Every path of the project, built once; nothing else concatenates path strings.

The layout is one table (`LAYOUT`, relative to the project root; `{name}` is a generator name or
a split, `{seed}` a generator fit seed), so the whole tree can be read at a
glance. `Paths.at(root).schema` is a file, `Paths.at(root).split("train")` a per-name file,
`Paths.at(root).pool("ctgan", 0)` a per-(generator, fit seed) file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Formatter

PARAMS_FILE = "params.yaml"

LAYOUT: dict[str, str] = {
    "params": PARAMS_FILE,
    # prepare
    "prepared": "data/prepared",
    "schema": "data/prepared/schema.json",
    "profile": "data/prepared/profile.json",
    "split": "data/prepared/{name}.parquet",
    # fit@G-F, sample@G-F: generator G fitted with fit seed F
    "generator_model": "models/generators/{name}/fit{seed}.pkl",
    "fit_report": "reports/generators/{name}/fit{seed}/fit.json",
    "quality_report": "reports/generators/{name}/fit{seed}/quality.json",
    "pools": "data/synthetic/{name}/fit{seed}",
    "pool": "data/synthetic/{name}/fit{seed}/pool.parquet",
    "targeted_pool": "data/synthetic/{name}/fit{seed}/targeted.parquet",  # when augment.target is set
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
    # the scarcity sweep: its cells (cached by what they depend on) and its report
    "scarcity_cache": "data/cache/scarcity",
    "scarcity": "reports/scarcity",
    "scarcity_table": "reports/scarcity/scarcity.csv",
    "scarcity_summary": "reports/scarcity/summary.md",
    "scarcity_metrics": "reports/scarcity/metrics.json",
    "scarcity_plot": "reports/scarcity/lift_vs_n_frauds.png",
    "scarcity_exchange": "reports/scarcity/exchange.csv",
    "scarcity_exchange_plot": "reports/scarcity/exchange_rate.png",
    # unseen: leave-one-variant-out cells (cached by what they depend on) and the test's report
    "unseen_cache": "data/cache/unseen",
    "unseen": "reports/unseen",
    "unseen_table": "reports/unseen/unseen.csv",
    "unseen_summary": "reports/unseen/summary.md",
    "unseen_metrics": "reports/unseen/metrics.json",
    "unseen_plot": "reports/unseen/recall_on_unseen_variants.png",
    # redteam: attacker tactics applied to the test frauds
    "redteam": "reports/redteam",
    "redteam_table": "reports/redteam/redteam.csv",
    "redteam_summary": "reports/redteam/summary.md",
    "redteam_metrics": "reports/redteam/metrics.json",
    "redteam_plot": "reports/redteam/heatmap.png",
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
        """`paths.schema` -> a Path; `paths.split` -> a function of the template's fields in their order
        (`paths.split("train")`, `paths.pool("ctgan", 0)`)."""
        if key not in LAYOUT:
            raise AttributeError(key)
        template = LAYOUT[key]
        fields = [f for _, f, _, _ in Formatter().parse(template) if f]
        if fields:
            return lambda *values: self.root / template.format(**dict(zip(fields, values, strict=True)))
        return self.root / template

    def under_root(self, relative: str | Path) -> Path:
        """A path given in params.yaml (relative to the project root, or absolute)."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p
