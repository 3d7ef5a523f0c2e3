"""Report plots: headline recall vs synthetic share, PR curves, and PR points for DVC plots.

matplotlib runs headless (Agg backend). Every PNG is rendered into memory and written through
`pipeline.core.files.atomic_path`, so a failed plot never leaves a half-written file.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402
from sklearn.metrics import average_precision_score, precision_recall_curve  # noqa: E402

from pipeline.core.errors import ConfigError, DataError  # noqa: E402
from pipeline.core.files import atomic_path  # noqa: E402

#: one marker and one colour per verdict, the same in every plot
VERDICT_MARKS = {"helps": "+", "hurts": "-", "equivalent": "=", "inconclusive": "?", "too few to judge": "."}
VERDICT_COLOURS = {
    "helps": "tab:green",
    "hurts": "tab:red",
    "equivalent": "tab:blue",
    "inconclusive": "tab:orange",
    "no clear effect": "0.55",
    "too few to judge": "0.85",
}
FIGSIZE = (9.0, 5.5)
DPI = 120
COMPARISON_COLUMNS = ("kind", "generator", "share", "recall", "recall_lo", "recall_hi")


def headline_label(headline: str) -> str:
    """Human axis label for a metric name: 'recall_at_fpr_0.1pct' -> 'recall at 0.1% FPR (test)'.

    Names it does not know are returned with underscores as spaces.
    """
    m = re.fullmatch(r"recall_at_fpr_([0-9.]+)pct", headline)
    if m:
        return f"recall at {m.group(1)}% FPR (test)"
    m = re.fullmatch(r"recall_at_precision_([0-9.]+)pct", headline)
    if m:
        return f"recall at {m.group(1)}% precision (test)"
    m = re.fullmatch(r"precision_at_top_([0-9]+)", headline)
    if m:
        return f"precision in top {m.group(1)} (test)"
    if "_" in headline and " " not in headline:
        return headline.replace("_", " ")
    return headline


def _save(fig, out_png: str | os.PathLike) -> None:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    with atomic_path(out_png) as tmp:
        tmp.write_bytes(buf.getvalue())


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def plot_recall_vs_share(comparison: pd.DataFrame, headline: str, out_png: str | os.PathLike) -> None:
    """Headline recall vs synthetic share: one line + CI band per generator, baselines as lines.

    `comparison` has one row per config with columns kind ('baseline' | 'reweight' |
    'augmented'), generator, share, recall, recall_lo, recall_hi. Each generator's line starts
    at the real-only baseline (share 0). NaN CI values leave gaps in the bands.
    """
    missing = [c for c in COMPARISON_COLUMNS if c not in comparison.columns]
    if missing:
        raise DataError(f"comparison table lacks columns {missing}; rebuild it with the compare stage")
    if comparison.empty:
        raise DataError("comparison table is empty; nothing to plot")
    label = headline_label(headline)
    df = comparison.copy()
    for c in ("share", "recall", "recall_lo", "recall_hi"):
        df[c] = pd.to_numeric(df[c], errors="coerce")

    fig, ax = plt.subplots(figsize=FIGSIZE)
    base = df[df["kind"] == "baseline"].head(1)
    rew = df[df["kind"] == "reweight"].head(1)
    base_pt = None
    if not base.empty:
        b = base.iloc[0]
        base_pt = (0.0, _num(b["recall"]), _num(b["recall_lo"]), _num(b["recall_hi"]))

    aug = df[df["kind"] == "augmented"]
    colors = cast(Any, plt.get_cmap("tab10")).colors  # tab10 is a ListedColormap
    gens = sorted(aug["generator"].dropna().astype(str).unique())
    for i, gen in enumerate(gens):
        g = aug[aug["generator"].astype(str) == gen].sort_values("share")
        x, y = g["share"].to_numpy(float), g["recall"].to_numpy(float)
        lo, hi = g["recall_lo"].to_numpy(float), g["recall_hi"].to_numpy(float)
        if base_pt is not None and not (x.size and x[0] == 0.0):
            x, y, lo, hi = (np.r_[p, a] for p, a in zip(base_pt, (x, y, lo, hi)))
        color = colors[i % len(colors)]
        ax.plot(x, y, marker="o", color=color, lw=2, label=gen)
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)
        if "verdict" in g:  # the configuration's verdict as the colour of its point
            ax.scatter(
                g["share"].to_numpy(float),
                g["recall"].to_numpy(float),
                s=70,
                zorder=4,
                edgecolors=color,
                linewidths=1.5,
                c=[VERDICT_COLOURS.get(v, "white") for v in g["verdict"]],
            )
    if "verdict" in aug:
        for v in dict.fromkeys(aug["verdict"]):
            ax.scatter([], [], s=70, c=VERDICT_COLOURS.get(v, "white"), edgecolors="k", label=f"verdict: {v}")

    for row, name, color in ((base, "real only (baseline)", "black"), (rew, "reweight (no synthetic)", "tab:gray")):
        if row.empty:
            continue
        r = row.iloc[0]
        y, lo, hi = _num(r["recall"]), _num(r["recall_lo"]), _num(r["recall_hi"])
        if np.isfinite(y):
            ax.axhline(y, color=color, ls="--", lw=1.5, label=f"{name}: {y:.3f}")
        if np.isfinite(lo) and np.isfinite(hi):
            ax.axhspan(lo, hi, color=color, alpha=0.08, lw=0)

    ax.set_xlabel("synthetic share of fraud rows")
    ax.set_ylabel(label)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title(f"Does synthetic fraud help? {label} vs synthetic share (bands: 95% CI)")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    _save(fig, out_png)


def plot_pr_curves(curves: dict[str, tuple], out_png: str | os.PathLike, title: str) -> None:
    """Precision-recall curves on the test rows, one per label, with AP in the legend: (labels, scores) or
    (labels, scores, weights) per label (weights: rows standing for several, `metrics.ScoreSummary.curve`)."""
    if not curves:
        raise DataError("no PR curves to plot")
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for label, (y, scores, *weights) in curves.items():
        y = np.asarray(y).ravel()
        s = np.asarray(scores, dtype=float).ravel()
        w = weights[0] if weights else None
        if not (y == 1).any():
            continue
        precision, recall, _ = precision_recall_curve(y, s, sample_weight=w)
        ap = average_precision_score(y, s, sample_weight=w)
        ax.plot(recall, precision, drawstyle="steps-post", lw=1.6, label=f"{label} (AP {ap:.3f})")
    ax.set_xlabel("recall (test)")
    ax.set_ylabel("precision (test)")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    _save(fig, out_png)


def plot_segment_lift(segments: pd.DataFrame, out_png: str | os.PathLike) -> None:
    """Heat map: configuration (rows) x fraud segment (columns), colour = recall difference vs the real-only
    baseline on that segment's test frauds; cell text = lift with a verdict marker ('+' helps, '-' hurts),
    '.' too few frauds to judge."""
    seg = segments[segments["kind"] != "baseline"]
    if seg.empty:
        raise DataError("no segment rows to plot; set evaluate.segments")
    configs = list(dict.fromkeys(seg["title"]))
    names = list(dict.fromkeys(seg["segment_name"]))
    diff = seg.pivot_table(index="title", columns="segment_name", values="diff", aggfunc="first").reindex(
        index=configs, columns=names
    )
    verdict = seg.set_index(["title", "segment_name"])["verdict"]
    lift = seg.set_index(["title", "segment_name"])["lift"]
    n = seg.drop_duplicates("segment_name").set_index("segment_name")["n_frauds"]
    vmax = float(np.nanmax(np.abs(diff.to_numpy()))) if np.isfinite(diff.to_numpy()).any() else 0.1
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(names) + 3.5), max(3.0, 0.42 * len(configs) + 1.8)))
    im = ax.imshow(diff.to_numpy(dtype=float), cmap="RdBu", vmin=-vmax or -0.1, vmax=vmax or 0.1, aspect="auto")
    for i, c in enumerate(configs):
        for j, name in enumerate(names):
            v = verdict.get((c, name))
            if v is None:
                continue
            mark = " " + VERDICT_MARKS[v] if v in VERDICT_MARKS else ""
            x = lift.get((c, name))
            text = "n/a" if x is None or not np.isfinite(x) else f"{x * 100:+.0f}%"
            ax.text(j, i, text + mark, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(names)), [f"{name}\n({int(n[name])} frauds)" for name in names], fontsize=8)
    ax.set_yticks(range(len(configs)), configs, fontsize=8)
    ax.set_title(
        "Recall difference vs real-only per fraud segment (test); text: lift, + helps, - hurts, "
        "= equivalent, ? inconclusive, . too few"
    )
    fig.colorbar(im, ax=ax, label="recall difference")
    _save(fig, out_png)


def plot_scarcity(table: pd.DataFrame, headline_text: str, out_png: str | os.PathLike) -> None:
    """The scarcity sweep: left, recall vs the number of real seed frauds (real-only and each configuration, CI
    bands for the configurations); right, the recall difference vs real-only with its CI band (log x axis)."""
    ok = table[table["verdict"] != "failed"].dropna(subset=["n_frauds"]) if "n_frauds" in table else table.iloc[:0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13.0, 5.0))
    if ok.empty:  # every cell failed or was skipped: say so where the plot is looked for
        left.axis("off")
        right.axis("off")
        left.text(
            0.0, 0.5, "No cell of the scarcity sweep could be judged:\nsee reports/scarcity/summary.md", fontsize=12
        )
        _save(fig, out_png)
        return
    base = ok.drop_duplicates("n_frauds").sort_values("n_frauds")
    left.plot(base["n_frauds"], base["baseline_recall"], "k-o", label="real-only")
    for cfg, g in ok.groupby("config", sort=False):
        g = g.sort_values("n_frauds")
        x = g["n_frauds"].to_numpy(dtype=float)
        (line,) = left.plot(x, g["recall"], "-o", label=cfg, alpha=0.9)
        left.fill_between(x, g["recall_lo"], g["recall_hi"], color=line.get_color(), alpha=0.12)
        right.plot(x, g["diff"], "-o", color=line.get_color(), label=cfg)
        right.fill_between(x, g["diff_lo"], g["diff_hi"], color=line.get_color(), alpha=0.18)
        for xi, yi, v in zip(x, g["diff"], g["verdict"]):
            mark = VERDICT_MARKS.get(v)
            if mark:
                right.annotate(mark, (xi, yi), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=11)
    right.axhline(0.0, color="grey", lw=1, ls="--")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("real seed frauds (n)")
        ax.grid(alpha=0.3)
    left.set_ylabel(headline_text)
    left.set_title("Recall vs known frauds (mean over draws; band: 95% CI)")
    right.set_ylabel("recall difference vs real-only")
    right.set_title("Augmented minus real-only (band: paired 95% CI; + helps, - hurts, = equivalent, ? inconclusive)")
    left.legend(fontsize=8)
    _save(fig, out_png)


def plot_exchange(ex: pd.DataFrame, out_png: str | os.PathLike) -> None:
    """What one synthetic fraud is worth in real frauds (left, with its CI, per configuration, vs the number of
    known frauds) next to what labelling buys (right: recall added per doubling of the real frauds)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13.0, 5.0))
    if ex.empty:
        for ax in (left, right):
            ax.axis("off")
        left.text(
            0.0,
            0.5,
            "No exchange rate: the sweep needs at least two numbers of known frauds\nwith "
            "judged cells (see reports/scarcity/summary.md)",
            fontsize=12,
        )
        _save(fig, out_png)
        return
    for cfg, g in ex.groupby("config", sort=False):
        g = g.sort_values("n_frauds")
        x = g["n_frauds"].to_numpy(dtype=float)
        (line,) = left.plot(x, g["worth"], "-o", label=cfg)
        left.fill_between(x, g["worth_lo"], g["worth_hi"], color=line.get_color(), alpha=0.15)
    left.axhline(0.0, color="grey", lw=1, ls="--")
    left.axhline(1.0, color="k", lw=0.8, ls=":", label="one synthetic = one real fraud")
    base = ex.drop_duplicates("n_frauds").sort_values("n_frauds")
    right.bar(np.arange(len(base)), base["gain_per_doubling"].fillna(0.0), color="0.5")
    right.set_xticks(np.arange(len(base)), [f"{int(n)} -> next" for n in base["n_frauds"]], fontsize=8)
    left.set_xscale("log")
    left.set_xlabel("known (real seed) frauds n")
    left.set_ylabel("real frauds one synthetic row is worth")
    left.set_title("Exchange rate of synthetic to real frauds (band: 95% CI)")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.set_ylabel("recall added per doubling of real frauds")
    right.set_title("Value of labelling (real-only curve)")
    right.grid(axis="y", alpha=0.3)
    _save(fig, out_png)


def plot_unseen(table: pd.DataFrame, headline_text: str, out_png: str | os.PathLike, note: str = "") -> None:
    """The unseen-variant test: per held-out variant (x), recall on its test frauds for the real-only detector and
    each augmented configuration (bars, whiskers: 95% CI; + helps, - hurts), and a black tick for the detector
    trained with the variant's own examples (seen)."""
    ok = table[table["verdict"] != "failed"] if not table.empty else table
    variants = list(dict.fromkeys(ok["variant"])) if not ok.empty else []
    fig, ax = plt.subplots(figsize=(max(7.0, 1.9 * len(variants) + 3.0), 5.0))
    if not variants:
        ax.axis("off")
        ax.text(
            0.0,
            0.5,
            note or "No variant of the unseen-variant test could be judged:\nsee reports/unseen/summary.md",
            fontsize=12,
        )
        _save(fig, out_png)
        return
    configs = list(dict.fromkeys(ok["config"]))
    width = 0.8 / len(configs)
    for j, cfg in enumerate(configs):
        g = ok[ok["config"] == cfg].set_index("variant").reindex(variants)
        x = np.arange(len(variants)) + (j - (len(configs) - 1) / 2) * width
        y = g["recall"].to_numpy(dtype=float)
        err = np.vstack([y - g["recall_lo"].to_numpy(dtype=float), g["recall_hi"].to_numpy(dtype=float) - y])
        color = "0.55" if cfg == "real-only" else None
        ax.bar(
            x,
            y,
            width * 0.95,
            label=cfg,
            color=color,
            yerr=np.nan_to_num(err),
            capsize=3,
            error_kw={"elinewidth": 1, "ecolor": "0.3"},
        )
        for xi, yi, v in zip(x, g["recall_hi"].to_numpy(dtype=float), g["verdict"]):
            mark = VERDICT_MARKS.get(v)
            if mark and np.isfinite(yi):
                ax.annotate(
                    mark,
                    (xi, yi),
                    textcoords="offset points",
                    xytext=(0, 3),
                    ha="center",
                    fontsize=13,
                    fontweight="bold",
                )
    seen = ok[ok["config"] == "real-only"].set_index("variant").reindex(variants)["seen_recall"].to_numpy(dtype=float)
    ax.hlines(
        seen,
        np.arange(len(variants)) - 0.45,
        np.arange(len(variants)) + 0.45,
        colors="k",
        lw=2,
        label="real-only trained WITH the variant (seen)",
    )
    column = ok["variant_column"].iloc[0]
    ax.set_xticks(np.arange(len(variants)), [f"{column}={v}" for v in variants])
    ax.set_ylim(0.0, 1.08)
    ax.set_ylabel(f"{headline_text} on the held-out variant's test frauds")
    ax.set_title(
        "Unseen variants: each held out of training and validation in turn (whiskers: 95% CI;\n"
        "+ helps, - hurts, = equivalent, ? inconclusive, . too few to judge)"
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, out_png)


def plot_redteam(table: pd.DataFrame, out_png: str | os.PathLike, note: str = "") -> None:
    """Red team heat map: configuration (rows) x copy of the test frauds (columns: unattacked first, then each
    tactic); colour and number: recall at the alert threshold, below it the drop from the unattacked recall and the
    verdict mark against real-only under the same tactic (+ helps, - hurts, = equivalent, ? inconclusive)."""
    if table.empty:
        fig, ax = plt.subplots(figsize=(7.0, 2.5))
        ax.axis("off")
        ax.text(0.0, 0.5, note or "The red team is off (redteam.tactics is empty)", fontsize=12)
        _save(fig, out_png)
        return
    tactics = list(dict.fromkeys(table["tactic"]))
    configs = list(dict.fromkeys(table["config"]))
    grid = table.pivot(index="config", columns="tactic", values="recall").reindex(index=configs, columns=tactics)
    by = table.set_index(["config", "tactic"])
    titles = [
        f"{by.loc[(c, tactics[0]), 'title']}{' (challenger)' if by.loc[(c, tactics[0]), 'challenger'] else ''}"
        for c in configs
    ]
    fig, ax = plt.subplots(figsize=(max(7.0, 1.25 * len(tactics) + 4.0), max(3.0, 0.42 * len(configs) + 1.8)))
    im = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for i, c in enumerate(configs):
        for j, t in enumerate(tactics):
            r = by.loc[(c, t)]
            mark = VERDICT_MARKS.get(str(r["verdict"]), "")
            text = f"{_num(r['recall']):.2f}" + ("" if j == 0 else f"\n{-_num(r['drop']):+.2f} {mark}".rstrip())
            ax.text(
                j, i, text, ha="center", va="center", fontsize=7, color="black" if _num(r["recall"]) > 0.6 else "white"
            )
    ax.set_xticks(
        np.arange(len(tactics)),
        [("unattacked" if t == tactics[0] else t).replace("+", "+\n") for t in tactics],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    ax.set_yticks(np.arange(len(configs)), titles, fontsize=8)
    fig.colorbar(im, ax=ax, label="recall on the test frauds at the alert threshold")
    ax.set_title(
        "Red team: recall under each tactic (below: change from unattacked;\n"
        "+ / - higher / lower than real-only under the same tactic beyond noise)",
        fontsize=10,
    )
    _save(fig, out_png)


def plot_leaderboard(
    board: pd.DataFrame, headline_text: str, max_excess: float | None, out_png: str | os.PathLike
) -> None:
    """One point per pool: x = detection AUC excess over real new frauds (fidelity; left is better), y = recall
    difference vs real-only with its CI (utility), colour = DCR ratio (memorisation; dark = hugs its seed rows)."""
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    ok = board.dropna(subset=["detection_auc_excess"]) if not board.empty else board
    if ok.empty:
        ax.axis("off")
        ax.text(0.0, 0.5, "No pool has a calibrated fidelity figure (too few real held-out frauds)", fontsize=11)
        _save(fig, out_png)
        return
    x = ok["detection_auc_excess"].to_numpy(dtype=float)
    y = ok["diff"].to_numpy(dtype=float)
    err = np.vstack([y - ok["diff_lo"].to_numpy(dtype=float), ok["diff_hi"].to_numpy(dtype=float) - y])
    ax.errorbar(x, y, yerr=err, fmt="none", ecolor="grey", alpha=0.6, capsize=3)
    dcr = np.clip(ok["dcr_ratio"].to_numpy(dtype=float), 0.0, 1.5)
    sc = ax.scatter(x, y, c=np.nan_to_num(dcr, nan=1.0), cmap="viridis", vmin=0.0, vmax=1.5, s=70, zorder=3)
    for xi, yi, name in zip(x, y, ok["generator"]):
        ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.axhline(0.0, color="grey", lw=1, ls="--")
    if max_excess is not None:
        ax.axvline(max_excess, color="firebrick", lw=1, ls=":", label=f"gate: excess {max_excess:g}")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("detection AUC excess over real new frauds (fidelity: lower is better)")
    ax.set_ylabel(f"{headline_text}: difference vs real-only (95% CI)")
    ax.set_title("Generator leaderboard: faithful, private and useful?")
    fig.colorbar(sc, ax=ax, label="DCR ratio (memorisation: low = hugs seed rows)")
    ax.grid(alpha=0.3)
    _save(fig, out_png)


def pr_curve_points(y, scores, max_points: int = 200, sample_weight=None) -> pd.DataFrame:
    """PR curve points (recall, precision, threshold) for DVC plot data, at most max_points rows.

    Rows are ordered by increasing recall (decreasing threshold). Downsampling keeps points
    evenly spread in recall (so the low-FPR end is not crowded out) and both curve ends.
    `sample_weight`: rows standing for several (`metrics.ScoreSummary.curve`).
    """
    if isinstance(max_points, bool) or int(max_points) != max_points or max_points < 2:
        raise ConfigError(f"max_points must be an integer >= 2, got {max_points!r}")
    y = np.asarray(y).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if not (y == 1).any():
        return pd.DataFrame({"recall": [], "precision": [], "threshold": []}, dtype=float)
    precision, recall, thresholds = precision_recall_curve(y, s, sample_weight=sample_weight)
    # drop sklearn's final (recall 0, precision 1) sentinel, which has no threshold; reverse
    p, r, t = precision[:-1][::-1], recall[:-1][::-1], thresholds[::-1]
    m = t.size
    if m > max_points:
        grid = np.linspace(r[0], r[-1], int(max_points))
        idx = np.searchsorted(r, grid, side="left").clip(0, m - 1)  # r is non-decreasing
        idx = np.unique(np.r_[0, idx, m - 1])
        if idx.size > max_points:
            idx = idx[np.unique(np.linspace(0, idx.size - 1, int(max_points)).round().astype(int))]
        p, r, t = p[idx], r[idx], t[idx]
    return pd.DataFrame({"recall": r.astype(float), "precision": p.astype(float), "threshold": t.astype(float)})
