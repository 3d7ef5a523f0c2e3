"""Stage `sample@G-F`: the synthetic fraud pool of generator G fitted with fit seed F, sized for the largest share, plus its quality gate."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.blend import n_synthetic
from pipeline.fmt import num
from pipeline.generators.base import Generator
from pipeline.io import write_json, write_parquet
from pipeline.paths import Paths
from pipeline.quality import assess_pool, threshold_keys
from pipeline.reports import failed_checks
from pipeline.schema import Schema


def run(params: dict[str, Any], paths: Paths, name: str, fit_seed: int) -> dict[str, Any]:
    schema = Schema.load(paths.schema)
    train = pd.read_parquet(paths.split("train"))
    valid = pd.read_parquet(paths.split("valid"))
    seed_set = schema.seed_set(train)
    n = n_synthetic(len(seed_set), max(params["augment"]["shares"]))
    gen = Generator.load(paths.generator_model(name, fit_seed))
    pool = gen.sample(n, seed=params["augment"]["sample_seed"])
    holdout = schema.seed_set(valid)  # real frauds the generator never saw
    thresholds = {k: params["quality"][k] for k in threshold_keys()}
    report = assess_pool(seed_set, pool, holdout, schema, thresholds=thresholds, seed=params["augment"]["sample_seed"])
    report = {"generator": name, "fit_seed": fit_seed, "pool_rows": len(pool), "max_share": max(params["augment"]["shares"]), **report}
    write_parquet(paths.pool(name, fit_seed), pool)
    write_json(paths.quality_report(name, fit_seed), report)
    failed = failed_checks(report)
    flag = "passed" if not failed else "flagged (" + ", ".join(failed) + ")"
    print(f"sample@{name}-{fit_seed}: {len(pool)} synthetic fraud rows; quality gate {flag}: quality score "
          f"{num(report.get('quality_score'))}, exact copies {num(report.get('exact_copy_share'))}, DCR ratio "
          f"{num(report.get('dcr_ratio'))}, detection AUC {num(report.get('detection_auc'))}")
    return report
