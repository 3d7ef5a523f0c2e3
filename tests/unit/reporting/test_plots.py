"""Unit tests for pipeline.reporting.plots: files are written as real PNGs; PR points are well formed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from pipeline.core.errors import DataError
from pipeline.reporting import plots
from pipeline.reporting.plots import headline_label, plot_pr_curves, plot_recall_vs_share, pr_curve_points

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions save, to check what they draw (a PNG's bytes cannot say)."""
    seen = []
    real = plots._save

    def spy(fig, out_png):
        seen.append(fig)
        real(fig, out_png)

    monkeypatch.setattr(plots, "_save", spy)
    return seen


def _lines(fig) -> dict:
    return {line.get_label(): line for line in fig.axes[0].get_lines()}


def _comparison() -> pd.DataFrame:
    nan = float("nan")
    rows = [
        ("baseline", None, 0.0, 0.40, 0.35, 0.45),
        ("reweight", None, 0.0, 0.42, nan, nan),
        ("augmented", "ctgan", 0.25, 0.43, 0.38, 0.48),
        ("augmented", "ctgan", 0.5, 0.45, nan, 0.50),
        ("augmented", "ctgan", 0.75, 0.41, 0.36, 0.46),
        ("augmented", "smote", 0.5, 0.44, 0.40, 0.49),
        ("augmented", "smote", 0.25, 0.42, 0.37, 0.47),
    ]
    return pd.DataFrame(rows, columns=["kind", "generator", "share", "recall", "recall_lo", "recall_hi"])


def test_headline_label():
    assert headline_label("recall_at_fpr_0.1pct") == "recall at 0.1% FPR (test)"
    assert headline_label("pr_auc") == "pr auc"
    assert headline_label("my label") == "my label"


def test_plot_recall_vs_share(tmp_path, figures):
    out = tmp_path / "plots" / "recall_vs_share.png"
    plot_recall_vs_share(_comparison(), "recall_at_fpr_0.1pct", out)
    assert _is_png(out)
    assert [p.name for p in out.parent.iterdir()] == ["recall_vs_share.png"]  # no temp file left
    lines = _lines(figures[0])
    # one line per generator, starting at the real-only baseline (share 0), in share order
    assert list(lines["ctgan"].get_xdata()) == [0.0, 0.25, 0.5, 0.75]
    assert list(lines["ctgan"].get_ydata()) == [0.40, 0.43, 0.45, 0.41]
    assert list(lines["smote"].get_xdata()) == [0.0, 0.25, 0.5]
    assert list(lines["smote"].get_ydata()) == [0.40, 0.42, 0.44]
    # the baselines as horizontal lines at their recall, named in the legend
    assert set(lines["real only (baseline): 0.400"].get_ydata()) == {0.40}
    assert set(lines["reweight (no synthetic): 0.420"].get_ydata()) == {0.42}
    assert figures[0].axes[0].get_ylabel() == "recall at 0.1% FPR (test)"


def test_plot_recall_vs_share_without_baselines(tmp_path):
    df = _comparison()
    out = tmp_path / "only_aug.png"
    plot_recall_vs_share(df[df["kind"] == "augmented"], "recall_at_fpr_1pct", out)
    assert _is_png(out)


def test_plot_recall_vs_share_bad_input(tmp_path):
    with pytest.raises(DataError):
        plot_recall_vs_share(_comparison().drop(columns="recall_lo"), "x", tmp_path / "a.png")
    with pytest.raises(DataError):
        plot_recall_vs_share(_comparison().iloc[:0], "x", tmp_path / "b.png")
    assert not list(tmp_path.iterdir())


def test_plot_pr_curves(tmp_path, figures):
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(int)
    curves = {
        "baseline": (y, rng.normal(size=400) + y),
        "ctgan 50%": (y, rng.normal(size=400) + 2 * y),
    }
    out = tmp_path / "pr.png"
    plot_pr_curves(curves, out, "PR curves (test)")
    assert _is_png(out)
    lines = _lines(figures[0])
    assert len(lines) == 2
    for name, (yy, s) in curves.items():  # one curve per detector, its AP in the legend, recall from 1 down to 0
        line = lines[f"{name} (AP {average_precision_score(yy, s):.3f})"]
        recall = np.asarray(line.get_xdata())
        assert recall[0] == 1.0 and recall[-1] == 0.0 and (np.diff(recall) <= 0).all()
    assert figures[0].axes[0].get_title() == "PR curves (test)"


def test_pr_curve_points():
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 0.05).astype(int)
    s = rng.normal(size=3000) + 1.5 * y
    df = pr_curve_points(y, s, max_points=50)
    assert list(df.columns) == ["recall", "precision", "threshold"]
    assert 2 <= len(df) <= 50
    assert df["recall"].is_monotonic_increasing
    assert df["threshold"].is_monotonic_decreasing
    assert df[["recall", "precision"]].apply(lambda c: c.between(0, 1).all()).all()
    assert df["recall"].iloc[-1] == 1.0
    assert df.notna().all().all()


def test_pr_curve_points_small_input_kept_whole():
    y = np.array([0, 1, 0, 1])
    s = np.array([0.1, 0.9, 0.4, 0.6])
    df = pr_curve_points(y, s)
    assert len(df) == 4
    assert df["precision"].tolist() == pytest.approx([1.0, 1.0, 2 / 3, 0.5])
    assert df["recall"].tolist() == pytest.approx([0.5, 1.0, 1.0, 1.0])
