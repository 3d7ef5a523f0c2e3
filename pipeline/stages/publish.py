"""Stage `publish`: the only stage that talks to MLflow. Reads the reports, logs them, registers the best detector."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.compare import best_config
from pipeline.detector import load_detector
from pipeline.io import read_json, write_json
from pipeline.paths import Paths
from pipeline.provenance import file_fingerprint, json_hash
from pipeline.reports import load_generator_reports
from pipeline.schema import Schema


def _example(paths: Paths, schema: Schema, n: int = 5) -> pd.DataFrame:
    valid = pd.read_parquet(paths.split("valid"))
    return schema.to_model_frame(valid.head(n)).reset_index(drop=True)


#: the params sections that shape the results: a change to tracking/retrain settings is not a new result
RESULT_SECTIONS = ("data", "split", "generators", "augment", "quality", "detector", "evaluate")


def build_bundle(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    table = pd.read_csv(paths.comparison)
    metrics = read_json(paths.metrics)
    train_report = read_json(paths.train_report)
    profile = read_json(paths.profile)
    schema = Schema.load(paths.schema)
    example = _example(paths, schema)
    first_seed = min(train_report["seeds"])
    models = {}
    best = best_config(table)
    for role, cfg in (("best", best["config"]), ("baseline", "baseline")):
        rec = next(r for r in train_report["detectors"] if r["config"] == cfg and r["seed"] == first_seed)
        row = table[table["config"] == cfg].iloc[0]
        models[role] = (row, load_detector(paths.detectors / rec["model"]), example)
    quality = load_generator_reports(train_report["generators"], paths, "quality")
    fits = load_generator_reports(train_report["generators"], paths, "fit")
    files = [p for p in (paths.comparison, paths.summary, paths.metrics, paths.train_report, paths.profile, paths.schema)
             if p.exists()]
    source = profile.get("source", "")
    return {
        "comparison": table, "metrics": metrics, "summary_text": paths.summary.read_text(),
        "plot_dir": paths.plots, "files": files, "quality": quality, "fits": fits,
        "detector_params": params["detector"], "generators": train_report["generators"],
        "shares": train_report["shares"], "seeds": train_report["seeds"],
        "data_fingerprint": file_fingerprint([paths.split(n) for n in ("train", "valid", "test")]),
        "params_hash": json_hash({k: params[k] for k in RESULT_SECTIONS}),
        "source": source, "source_short": source.split(":")[0],
        "models": models,
    }


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    from pipeline.tracking import publish

    t = params["tracking"]
    bundle = build_bundle(params, paths)
    record = publish(bundle, paths.root, t["experiment"], t["model_name"], retries=t["retries"], wait_s=t["retry_wait_s"])
    write_json(paths.mlflow_report, record)
    reg = record.get("registered_model") or {}
    print(f"publish: parent run {record.get('parent_run_id')} in experiment {t['experiment']!r} at "
          f"{record.get('tracking_uri')}" + (f"; registered {reg['name']} v{reg['version']} ({', '.join(reg['aliases'])})"
                                              if reg else ""))
    return record
