"""What a person reads from the evaluate stage: the summary's experiment sections in order (the comparison, the
leaderboard, segments, targeting) and its five plots with the CSVs behind the DVC plots."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.files import read_json, write_csv
from pipeline.core.paths import Paths
from pipeline.experiment.compare import headline_name
from pipeline.experiment.evaluation import Evaluation
from pipeline.experiment.grid import BASELINE
from pipeline.quality.reports import first_paragraph, gate_threshold
from pipeline.reporting.markdown import leaderboard_markdown, segments_markdown, summary_markdown, targeting_markdown
from pipeline.reporting.plots import (
    headline_label,
    plot_leaderboard,
    plot_pr_curves,
    plot_recall_vs_share,
    plot_segment_lift,
    pr_curve_points,
)


def headline_text(params: dict[str, Any]) -> str:
    """The headline metric in words, as the summary and the leaderboard name it: 'recall at 0.1% FPR'."""
    return headline_label(headline_name(params["evaluate"])).replace(" (test)", "")


def evaluation_summary(ev: Evaluation, params: dict[str, Any], paths: Paths) -> str:
    """reports/summary.md up to its serving sections: the comparison in words (with the data's leak check from
    data/prepared/profile.json and the unseen test's first paragraph), the leaderboard, the fraud segments and the
    targeting table."""
    p = params["evaluate"]
    text = headline_text(params)
    profile = read_json(paths.profile) if paths.profile.exists() else None
    summary = summary_markdown(
        ev.table,
        text,
        profile,
        ev.quality,
        ev.train_report.get("excluded_generators"),
        p["ci"],
        unseen=first_paragraph(paths.unseen_summary),
        min_effect=p["min_effect"],
        reference_lift=p["reference_lift"],
        train_report=ev.train_report,
    )
    summary += "\n" + leaderboard_markdown(ev.board, text)
    if not ev.segments.empty:
        summary += "\n" + segments_markdown(ev.segments, text, p["min_segment_frauds"], p["min_effect"])
    if ev.targeting is not None:
        summary += "\n" + targeting_markdown(ev.targeting, text, params["augment"]["target"])
    return summary


def write_plots(ev: Evaluation, params: dict[str, Any], paths: Paths) -> None:
    """reports/plots/*.png (leaderboard, segment lift, recall vs share, PR curves of the best config vs the
    baselines, first seed of each) and reports/plot_data/*.csv (the DVC plots)."""
    plot_leaderboard(
        ev.board,
        headline_text(params),
        gate_threshold(ev.quality, "detection_auc_excess"),
        paths.plots / "leaderboard.png",
    )
    if not ev.segments.empty:
        plot_segment_lift(ev.segments, paths.plots / "segment_lift.png")
    plot_recall_vs_share(ev.table, headline_name(params["evaluate"]), paths.plots / "recall_vs_share.png")
    first_seed, pick = ev.first_seed, ev.pick

    def curve(config: str) -> tuple:  # (labels, scores, weights): every test row, or out of core the curve's corners
        return pick[config].splits(ev.y_valid, ev.y_test)[1].curve()

    curves = {f"real-only baseline (seed {first_seed})": curve("baseline")}
    if ev.best["kind"] != BASELINE:
        curves[f"best: {ev.best['title']} (seed {first_seed})"] = curve(ev.best["config"])
    if "reweight" in pick:
        curves[f"reweight baseline (seed {first_seed})"] = curve("reweight")
    plot_pr_curves(curves, paths.plots / "pr_curves.png", title="Precision-recall on the real test rows")

    plot_dir = paths.plot_data
    rv = ev.table[["config", "title", "kind", "generator", "share", "recall", "recall_lo", "recall_hi"]].copy()
    write_csv(plot_dir / "recall_vs_share.csv", rv)
    pr = []
    for name, (y, s, w) in curves.items():
        pts = pr_curve_points(y, s, sample_weight=w)
        pts.insert(0, "model", name)
        pr.append(pts)
    write_csv(plot_dir / "pr_curves.csv", pd.concat(pr, ignore_index=True))
