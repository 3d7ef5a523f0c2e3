"""Stage `evaluate`: every detector scored on the same untouched real TEST rows.

Writes reports/comparison.csv, reports/metrics.json (DVC metrics), reports/summary.md, reports/serving.json,
reports/review_queue.csv, reports/comparison_segments.csv, reports/plots/*.png and reports/plot_data/*.csv
(DVC plots). The tables come from `pipeline.experiment.evaluation`, the serving thresholds and review queue from
`pipeline.ops.serving_report`, the summary and plots from `pipeline.reporting.evaluation_report`.
"""

from __future__ import annotations

from typing import Any

from pipeline.core.compute import open_backend
from pipeline.core.files import write_csv, write_json, write_text
from pipeline.core.paths import Paths
from pipeline.experiment.evaluation import evaluate_detectors, evaluation_metrics
from pipeline.ops.serving_report import decide_test_rows, serving_markdown
from pipeline.reporting.evaluation_report import evaluation_summary, write_plots


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    with open_backend(params) as backend:  # out of core: one Dask cluster for the scores and the review queue
        ev = evaluate_detectors(params, paths, backend)
        serving, queue = decide_test_rows(params, paths, ev.schema, ev.test, ev.y_valid, ev.y_test, ev.served, backend)
    metrics = evaluation_metrics(ev, serving["best"]["test_decisions"])
    write_csv(paths.comparison, ev.table)
    write_json(paths.metrics, metrics)
    summary = evaluation_summary(ev, params, paths) + serving_markdown(serving["best"])
    write_text(paths.summary, summary)
    write_json(paths.serving, serving)
    write_csv(paths.review_queue, queue)
    write_csv(paths.comparison_segments, ev.segments)
    write_plots(ev, params, paths)
    print(summary.splitlines()[2])
    print(f"evaluate: {len(ev.scored)} detectors on {ev.n_test} test rows; see {paths.summary.relative_to(paths.root)}")
    return metrics
