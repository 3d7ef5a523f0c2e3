"""Stage `sample@G`: the synthetic fraud pool of G, sized for the largest share, plus its quality gate."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.blend import n_synthetic
from pipeline.config import Paths
from pipeline.generators.base import Generator
from pipeline.io import write_json, write_parquet
from pipeline.quality import assess_pool
from pipeline.schema import Schema
from pipeline.stages.fit import seed_set

THRESHOLD_KEYS = ("min_quality_score", "max_exact_copy_share", "min_dcr_ratio", "max_detection_auc")


def run(params: dict[str, Any], paths: Paths, name: str) -> dict[str, Any]:
    schema = Schema.load(paths.schema)
    train = pd.read_parquet(paths.split("train"))
    valid = pd.read_parquet(paths.split("valid"))
    seeds = seed_set(train, schema)
    n = n_synthetic(len(seeds), max(params["augment"]["shares"]))
    gen = Generator.load(paths.generator_model(name))
    pool = gen.sample(n, seed=params["augment"]["sample_seed"])
    holdout = schema.conform(valid.loc[valid[schema.label] == 1]).reset_index(drop=True)
    thresholds = {k: params["quality"][k] for k in THRESHOLD_KEYS}
    report = assess_pool(seeds, pool, holdout, schema, thresholds=thresholds, seed=params["augment"]["sample_seed"])
    report = {"generator": name, "pool_rows": len(pool), "max_share": max(params["augment"]["shares"]), **report}
    write_parquet(paths.pool(name), pool)
    write_json(paths.quality_report(name), report)
    failed = [k for k, c in report.get("checks", {}).items() if c.get("passed") is False]
    flag = "passed" if not failed else "flagged (" + ", ".join(failed) + ")"

    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    print(f"sample@{name}: {len(pool)} synthetic fraud rows; quality gate {flag}: quality score "
          f"{f(report.get('quality_score'))}, exact copies {f(report.get('exact_copy_share'))}, DCR ratio "
          f"{f(report.get('dcr_ratio'))}, detection AUC {f(report.get('detection_auc'))}")
    return report
