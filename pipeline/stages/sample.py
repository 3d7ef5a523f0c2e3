"""Stage `sample@G-F`: the synthetic fraud pool of generator G fitted with fit seed F, sized for the largest share,
plus its quality gate; with augment.target set, also the targeted pool (same size, segment mix of
`pipeline.generators.targeting`) with its own gate."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.cache import ResultCache
from pipeline.core.errors import GeneratorError
from pipeline.core.files import write_json, write_parquet
from pipeline.core.formats import num
from pipeline.core.paths import Paths
from pipeline.core.provenance import file_fingerprint, frame_fingerprint, version
from pipeline.core.schema import Schema
from pipeline.data.samples import read_frauds
from pipeline.experiment.blend import n_synthetic, pool_seed
from pipeline.generators.base import Generator
from pipeline.generators.targeting import allocate
from pipeline.quality.gate import MAX_ROWS, assess_pool, real_reference, threshold_keys
from pipeline.quality.reports import failed_checks, gate_status


def _line(report: dict[str, Any]) -> str:
    failed = failed_checks(report)
    flag = gate_status(report) + (
        " (" + ", ".join(failed) + ")" if failed else f" ({report['status_note']})" if report.get("status_note") else ""
    )
    excess = report.get("detection_auc_excess")
    return (
        f"quality gate {flag}: quality score {num(report.get('quality_score'))}, exact copies "
        f"{num(report.get('exact_copy_share'))}, DCR ratio {num(report.get('dcr_ratio'))}, detection AUC "
        f"{num(report.get('detection_auc'))}"
        + (
            ""
            if excess is None
            else f" (excess over real new frauds {num(excess)}, 90% interval "
            f"{num(report.get('detection_auc_excess_lo'))}.."
            f"{num(report.get('detection_auc_excess_hi'))})"
        )
    )


def reference(paths: Paths, seed_set: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, seed: int) -> dict | None:
    """The gate's reference (`pipeline.quality.gate.real_reference`) from the cache in `paths.gate_cache`, computed
    and stored when missing: every pool gated on the same seed set and held-out frauds (each generator, fit seed and
    targeted pool) shares it. The key covers those rows, the schema, the seed, the gate's code and the packages
    that compute it."""
    versions = {p: version(p) for p in ("sdmetrics", "xgboost-cpu", "xgboost", "scikit-learn", "numpy", "pandas")}
    cache = ResultCache(paths.gate_cache, file_fingerprint([paths.schema]))
    key = cache.key(
        what="gate reference",
        seed_set=frame_fingerprint(seed_set),
        holdout=frame_fingerprint(holdout),
        seed=seed,
        max_rows=MAX_ROWS,
        versions=versions,
    )
    hit = cache.get_json(key)
    if hit is not None:
        return hit["reference"]
    ref = real_reference(seed_set, holdout, schema, seed, MAX_ROWS)
    cache.put_json(key, {"reference": ref})
    return ref


def run(params: dict[str, Any], paths: Paths, name: str, fit_seed: int) -> dict[str, Any]:
    schema = Schema.load(paths.schema)
    train = read_frauds(paths.split("train"), schema.label)  # the seed set only: no split is read whole
    valid = read_frauds(paths.split("valid"), schema.label)
    seed_set = schema.seed_set(train)
    n = n_synthetic(len(seed_set), max(params["augment"]["shares"]))
    gen = Generator.load(paths.generator_model(name, fit_seed))
    target = params["augment"]["target"]
    if target and gen.target_column != target["column"]:  # a model fitted for another target: never mix them up
        fitted = "without a target column" if gen.target_column is None else f"for {gen.target_column!r}"
        raise GeneratorError(
            f"generator {name} (fit seed {fit_seed}) was fitted {fitted}, but augment.target."
            f"column is {target['column']!r}; refit it (dvc repro fit@{name}-{fit_seed})"
        )
    seed = pool_seed(params["augment"]["sample_seed"], fit_seed)
    pool = gen.sample(n, seed=seed)
    holdout = schema.seed_set(valid)  # real frauds the generator never saw
    thresholds = {k: params["quality"][k] for k in threshold_keys()}

    gate_seed = params["augment"]["sample_seed"]

    def gate(rows: pd.DataFrame) -> dict[str, Any]:
        return assess_pool(
            seed_set,
            rows[schema.feature_names],
            holdout,
            schema,
            thresholds=thresholds,
            seed=gate_seed,
            reference=lambda: reference(paths, seed_set, holdout, schema, gate_seed),
        )

    report = {
        "generator": name,
        "fit_seed": fit_seed,
        "pool_rows": len(pool),
        "max_share": max(params["augment"]["shares"]),
        **gate(pool),
    }
    targeted = None
    if target:
        column = target["column"]
        seed_counts = gen.target_counts()
        counts = allocate(seed_counts, n, target)  # a value no seed fraud has is the user's error: one line, exit 2
        head = {
            "generator": name + "+target",
            "fit_seed": fit_seed,
            "column": column,
            "policy": target["policy"],
            "seed_counts": seed_counts,
            "counts": counts,
        }
        try:
            targeted = gen.sample_targeted(counts, seed=seed)
        except GeneratorError as error:  # e.g. TVAE never makes a rare segment: report it, keep the other pools
            report["targeted"] = {**head, "failed": str(error), "passed": False}
            print(f"sample@{name}-{fit_seed}: no targeted pool ({error}); {name}+target is left out of training")
        else:
            mix = targeted[column].value_counts().to_dict()
            report["targeted"] = {
                **head,
                "pool_rows": len(targeted),
                "mix": {str(k): int(v) for k, v in mix.items()},
                **gate(targeted),
            }
        if column in pool.columns:  # the untargeted pool's own mix, where the generator models the column
            report["mix"] = {str(k): int(v) for k, v in pool[column].value_counts().to_dict().items()}
    paths.pools(name, fit_seed).mkdir(parents=True, exist_ok=True)
    write_parquet(paths.pool(name, fit_seed), pool)
    if targeted is not None:
        write_parquet(paths.targeted_pool(name, fit_seed), targeted)
    write_json(paths.quality_report(name, fit_seed), report)
    print(f"sample@{name}-{fit_seed}: {len(pool)} synthetic fraud rows; {_line(report)}")
    if targeted is not None:
        t = report["targeted"]
        print(
            f"sample@{name}-{fit_seed}: targeted pool by {t['column']} ({t['policy']}): "
            + ", ".join(f"{v}: {k}" for v, k in t["counts"].items())
            + f"; {_line(t)}"
        )
    return report
