"""The calibrated quality gate (`pipeline.quality.gate.assess_pool`) for pools made outside the pipeline.

Candidate generators that cannot live in our environment (forestdiffusion, mostlyai-engine: see
`tests/bench/results/candidate_generators.md`) were fitted in their own virtualenvs by the scripts in this
folder (`install.sh`, `run_*.py`) on the built-in data's seed set; this scores their pools exactly as
`sample@G-F` scores ours, against the same seed set and real held-out frauds.

Run: `.venv/bin/python tests/bench/candidates/gate.py <project root with data/prepared> <pool.parquet>...`
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from pipeline.config.params import defaults  # noqa: E402
from pipeline.core.paths import Paths  # noqa: E402
from pipeline.core.schema import Schema  # noqa: E402
from pipeline.quality.gate import assess_pool, threshold_keys  # noqa: E402

KEYS = (
    "quality_score",
    "quality_score_drop",
    "exact_copy_share",
    "dcr_ratio",
    "detection_auc",
    "detection_auc_real_reference",
    "detection_auc_excess",
)


def main(project: str, pools: list[str]) -> None:
    paths = Paths.at(project)
    schema = Schema.load(paths.schema)
    seed = schema.seed_set(pd.read_parquet(paths.split("train")))
    holdout = schema.seed_set(pd.read_parquet(paths.split("valid")))
    limits = {k: defaults()["quality"][k] for k in threshold_keys()}
    for pool_file in pools:
        pool = pd.read_parquet(pool_file)
        report = assess_pool(seed, pool[schema.feature_names], holdout, schema, limits, seed=0)
        out = {k: report.get(k) for k in KEYS}
        out["gate"] = (
            "pass"
            if report["passed"]
            else "flagged: " + ", ".join(n for n, c in report["checks"].items() if c["passed"] is False)
        )
        out["sdmetrics_privacy"] = report["sdmetrics_privacy"]
        print(json.dumps({"pool": Path(pool_file).name, "rows": len(pool), **out}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
