"""Stage `evaluate`: every detector scored on the same untouched real TEST rows.

Writes reports/comparison.csv, reports/metrics.json (DVC metrics), reports/summary.md,
reports/plots/*.png and reports/plot_data/*.csv (DVC plots).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.files import read_json, write_csv, write_json, write_text
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.data.segments import fraud_segments
from pipeline.experiment.challenger import challenger_config
from pipeline.experiment.compare import (
    DetectorScores,
    compare,
    headline_hits,
    headline_name,
    leaderboard,
    metrics_dict,
    segment_metrics,
    segment_table,
    targeting_table,
)
from pipeline.experiment.detector import load_detector
from pipeline.experiment.grid import BASELINE
from pipeline.experiment.scoring import score_detectors
from pipeline.ops.serving import (
    QUEUE_COLUMNS,
    REVIEW,
    Scorer,
    Thresholds,
    decision_counts,
    decisions_markdown,
    missing_markdown,
    queue_frame,
    realised_fpr,
    training_missing,
)
from pipeline.quality.reports import first_paragraph, gate_threshold, load_generator_reports
from pipeline.reporting.markdown import leaderboard_markdown, segments_markdown, summary_markdown, targeting_markdown
from pipeline.reporting.plots import (
    headline_label,
    plot_leaderboard,
    plot_pr_curves,
    plot_recall_vs_share,
    plot_segment_lift,
    pr_curve_points,
)


def decide_test_rows(params: dict[str, Any], paths: Paths, schema: Schema, test: pd.DataFrame,
                     y_valid, y_test, detectors: dict[str, DetectorScores]) -> tuple[dict, pd.DataFrame]:
    """Decision thresholds of the detectors publish logs (best config and baseline, first fit and seed), from the
    validation rows, with the missing-input policy and each feature's missing share in the training split; their
    realised FPRs; the best one's decisions on the test rows and its review queue (computed columns `pipeline.*`)."""
    budget, sv = params["evaluate"]["fpr_budgets"][0], params["serve"]
    shares = training_missing(paths.split("train"), schema)
    out: dict[str, Any] = {}
    queue = pd.DataFrame()
    for role, d in detectors.items():
        thresholds = Thresholds.from_validation(d.valid[y_valid == 0], budget, sv["review_budget"], sv["reasons"],
                                                sv["missing"], sv["missing_share"], shares)
        entry = {"config": d.config, "seed": d.seed, "fit_seed": d.fit_seed, "model": d.model,
                 "thresholds": thresholds.to_dict(),
                 **realised_fpr(thresholds, d.valid[y_valid == 0], d.test[y_test == 0])}
        if role == "best":
            scorer = Scorer(load_detector(paths.detectors / d.model), schema, thresholds)
            decided = scorer.predict(test)
            entry["test_decisions"] = decision_counts(decided["decision"], y_test)
            keep = [c for c in (schema.time, *schema.ids, *schema.meta) if c] + schema.feature_names + [schema.label]
            queue = queue_frame(test[keep], decided)
            queue = queue[queue[QUEUE_COLUMNS["decision"]] == REVIEW].sort_values(QUEUE_COLUMNS["score"],
                                                                                   ascending=False, kind="stable")
        out[role] = entry
    return out, queue.reset_index(drop=True)


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    schema = Schema.load(paths.schema)
    valid = pd.read_parquet(paths.split("valid"))
    test = pd.read_parquet(paths.split("test"))
    train_report = read_json(paths.train_report)
    y_valid, y_test = valid[schema.label].to_numpy(), test[schema.label].to_numpy()
    scored = score_detectors(train_report, paths, schema, valid, test, params)
    quality = load_generator_reports(train_report["generators"], paths, "quality", train_report["fit_seeds"])
    ev = params["evaluate"]
    hits = headline_hits(scored, y_valid, y_test, ev["fpr_budgets"][0])
    table = compare(scored, y_valid, y_test, ev, quality, hits=hits)
    seg_table = segment_table(table, hits, y_test, fraud_segments(test, ev["segments"], schema.label), ev)
    headline = headline_name(ev)
    text = headline_label(headline).replace(" (test)", "")
    profile = read_json(paths.profile) if paths.profile.exists() else None

    best = challenger_config(table)  # the one place the registered detector is chosen
    first_seed = min(d.seed for d in scored)
    first_fit = min(train_report["fit_seeds"])
    pick = {d.config: d for d in scored if d.seed == first_seed and d.fit_seed in (None, first_fit)}
    serving, queue = decide_test_rows(params, paths, schema, test, y_valid, y_test,
                                      {"best": pick[best["config"]], "baseline": pick["baseline"]})

    write_csv(paths.comparison, table)
    metrics = metrics_dict(table)
    metrics["test"]["decisions"] = {k: v["rows"] for k, v in serving["best"]["test_decisions"].items()}
    metrics["segments"] = segment_metrics(seg_table, best["config"])
    write_json(paths.metrics, metrics)
    summary = summary_markdown(table, text, profile, quality, train_report.get("excluded_generators"), ev["ci"],
                               unseen=first_paragraph(paths.unseen_summary), min_effect=ev["min_effect"],
                               reference_lift=ev["reference_lift"])
    board = leaderboard(table, quality)
    summary += "\n" + leaderboard_markdown(board, text)
    plot_leaderboard(board, text, gate_threshold(quality, "detection_auc_excess"), paths.plots / "leaderboard.png")
    if not seg_table.empty:
        summary += "\n" + segments_markdown(seg_table, text, ev["min_segment_frauds"], ev["min_effect"])
    target = params["augment"]["target"]
    if target:
        targeting = targeting_table(table, hits, y_test, fraud_segments(test, [target["column"]], schema.label), ev)
        summary += "\n" + targeting_markdown(targeting, text, target)
    summary += "\n" + decisions_markdown(serving["best"])
    missing = missing_markdown(serving["best"]["thresholds"])
    summary += ("\n" + missing) if missing else ""
    write_text(paths.summary, summary)
    write_json(paths.serving, serving)
    write_csv(paths.review_queue, queue)
    write_csv(paths.comparison_segments, seg_table)
    if not seg_table.empty:
        plot_segment_lift(seg_table, paths.plots / "segment_lift.png")

    # plots: recall vs share, PR curves of the best config vs the baseline (first seed of each)
    plot_recall_vs_share(table, headline, paths.plots / "recall_vs_share.png")
    curves = {f"real-only baseline (seed {first_seed})": (y_test, pick["baseline"].test)}
    if best["kind"] != BASELINE:
        curves[f"best: {best['title']} (seed {first_seed})"] = (y_test, pick[best["config"]].test)
    if "reweight" in pick:
        curves[f"reweight baseline (seed {first_seed})"] = (y_test, pick["reweight"].test)
    plot_pr_curves(curves, paths.plots / "pr_curves.png", title="Precision-recall on the real test rows")

    plot_dir = paths.plot_data
    rv = table[["config", "title", "kind", "generator", "share", "recall", "recall_lo", "recall_hi"]].copy()
    write_csv(plot_dir / "recall_vs_share.csv", rv)
    pr = []
    for name, (y, s) in curves.items():
        pts = pr_curve_points(y, s)
        pts.insert(0, "model", name)
        pr.append(pts)
    write_csv(plot_dir / "pr_curves.csv", pd.concat(pr, ignore_index=True))
    print(summary.splitlines()[2])
    print(f"evaluate: {len(scored)} detectors on {len(test)} test rows; see {paths.summary.relative_to(paths.root)}")
    return metrics
