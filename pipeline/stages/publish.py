"""Stage `publish`: the only stage that talks to MLflow. Reads the reports, logs them, registers the best detector."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.files import read_json, write_json
from pipeline.core.paths import Paths
from pipeline.core.provenance import file_fingerprint, json_hash
from pipeline.core.schema import Schema
from pipeline.experiment.plan import Plan
from pipeline.ops.serving import serving_frame
from pipeline.quality.reports import load_generator_reports


def _example(paths: Paths, schema: Schema, n: int = 5) -> pd.DataFrame:
    """Raw validation rows as a client sends them: the user's column names, categoricals as strings. The first rows,
    read from the split's first Parquet part when it is a folder of parts (a large table is never read whole here)."""
    split = paths.split("valid")
    parts = sorted(split.glob("part-*.parquet")) if split.is_dir() else [split]
    valid = pd.read_parquet(parts[0] if parts else split)
    return serving_frame(schema, valid.head(n))


#: the params sections that shape the results: a change to tracking/retrain settings is not a new result
RESULT_SECTIONS = (
    "data",
    "split",
    "generators",
    "augment",
    "quality",
    "detector",
    "evaluate",
    "serve",
    "unseen",
    "redteam",
)


def _table(path) -> pd.DataFrame:
    """A report table; empty when the report has no rows (evaluate.segments empty, unseen.column null)."""
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def build_bundle(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    table = pd.read_csv(paths.comparison)
    metrics = read_json(paths.metrics)
    train_report = read_json(paths.train_report)
    profile = read_json(paths.profile)
    schema = Schema.load(paths.schema)
    example = _example(paths, schema)
    serving = read_json(paths.serving)
    models = {}
    for role in ("best", "baseline"):  # the detectors evaluate set decision thresholds for
        entry = serving[role]
        row = table[table["config"] == entry["config"]].iloc[0]
        models[role] = {
            "row": row,
            "model_file": paths.detectors / entry["model"],
            "schema_file": paths.schema,
            "thresholds": entry["thresholds"],
            "example": example,
        }
    plan = Plan.from_report(train_report)
    quality = load_generator_reports(list(plan.pools), paths, "quality", list(plan.fit_seeds))
    fits = load_generator_reports(list(plan.pools), paths, "fit", list(plan.fit_seeds))
    files = [
        p
        for p in (
            paths.comparison,
            paths.comparison_segments,
            paths.summary,
            paths.metrics,
            paths.train_report,
            paths.profile,
            paths.schema,
            paths.serving,
            paths.review_queue,
        )
        if p.exists()
    ]
    segments = _table(paths.comparison_segments)
    unseen_files = [
        p for p in (paths.unseen_table, paths.unseen_summary, paths.unseen_metrics, paths.unseen_plot) if p.exists()
    ]
    redteam_files = [
        p for p in (paths.redteam_table, paths.redteam_summary, paths.redteam_metrics, paths.redteam_plot) if p.exists()
    ]
    source = profile.get("source", "")
    return {
        "comparison": table,
        "metrics": metrics,
        "summary_text": paths.summary.read_text(),
        "plot_dir": paths.plots,
        "files": files,
        "quality": quality,
        "fits": fits,
        "detector_params": params["detector"],
        "generators": list(plan.pools),
        "shares": list(plan.shares),
        "seeds": list(plan.seeds),
        "data_fingerprint": file_fingerprint([paths.split(n) for n in ("train", "valid", "test")]),
        "params_hash": json_hash({k: params[k] for k in RESULT_SECTIONS}),
        "source": source,
        "source_short": source.split(":")[0],
        "models": models,
        "decisions": serving["best"],
        "segments": segments,
        "unseen": _table(paths.unseen_table),
        "unseen_files": unseen_files,
        "redteam": _table(paths.redteam_table),
        "redteam_files": redteam_files,
    }


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    from pipeline.ops.tracking import publish

    t = params["tracking"]
    bundle = build_bundle(params, paths)
    record = publish(
        bundle, paths.root, t["experiment"], t["model_name"], retries=t["retries"], wait_s=t["retry_wait_s"]
    )
    write_json(paths.mlflow_report, record)
    reg = record.get("registered_model") or {}
    print(
        f"publish: parent run {record.get('parent_run_id')} in experiment {t['experiment']!r} at "
        f"{record.get('tracking_uri')}"
        + (f"; registered {reg['name']} v{reg['version']} ({', '.join(reg['aliases'])})" if reg else "")
    )
    return record
