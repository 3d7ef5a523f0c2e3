"""The scarcity sweep: does synthetic fraud help when only n real frauds are known?

One **cell** = (n seed frauds, draw R, generator G): keep every legitimate training row and a random n of
the seed set's frauds (draw R; the draws are nested: the n = 25 frauds of a draw are among its n = 50),
fit G on those n frauds (fit seed R; its pool sampled with `pool_seed(sample_seed, R)`), and train the
real-only detector and the augmented detectors at each `scarcity.shares` on them. Early stopping and
thresholds use the real validation rows, and every detector is scored on the same real test rows. A cell
stores which test frauds each detector alerts at the headline budget. The **sweep** then pairs each
augmented detector with the real-only detector of the same cell and bootstraps over test fraud rows,
detector seeds and draws (draws paired: both sides saw the same n frauds), giving per (generator, share, n)
a recall difference, lift, CI and verdict.

Only the training split's frauds are cut: validation and test rows, and the time order of the split, are
those of the main run, so every n is judged on the same later rows.

The sweep is one stage (`run_cells`): each cell's result is kept in a `pipeline.core.cache.ResultCache` under a hash of
the prepared splits, the pipeline's code and the cell's settings (n, draw, generator type and hyperparameters,
shares, detector seeds and settings, budget, sample seed), so widening `scarcity.n_frauds`, `repeats` or
`generators` runs only the new cells - in one process, where a DVC stage per cell paid a process start and the
imports of sdv/torch/xgboost for each (measured: about 6 s of a 7.5 s cell).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.cache import ResultCache
from pipeline.core.compute import SEQUENTIAL, Backend
from pipeline.core.errors import PipelineError
from pipeline.core.formats import pct, signed
from pipeline.core.schema import Schema
from pipeline.experiment.blend import n_synthetic, pool_seed
from pipeline.experiment.cells import cell_hits, fit_generator, unbits
from pipeline.experiment.metrics import (
    NOT_SIGNIFICANT,
    PAIRED_COLUMNS,
    VERDICT_HELPS,
    VERDICT_HURTS,
    bootstrap_interval,
    paired_with,
)
from pipeline.generators.base import short_reason

ALL = "all"
OK, SKIPPED, FAILED = "ok", "skipped", "failed"
#: the sweep table's columns (scarcity.csv)
COLUMNS = [
    "config",
    "generator",
    "share",
    "n_requested",
    "n_frauds",
    "n_draws",
    "baseline_recall",
    *PAIRED_COLUMNS,
    "verdict",
    "reason",
]


@dataclass(frozen=True)
class SweepGrid:
    """The sweep's grid (`scarcity:`): the numbers of known frauds, the draws per number, the generators and the
    synthetic shares."""

    n_frauds: list
    repeats: list[int]
    generators: list[str]
    shares: list[float]

    @classmethod
    def of(cls, scarcity: Mapping[str, Any]) -> SweepGrid:
        return cls(
            list(scarcity["n_frauds"]),
            list(scarcity["repeats"]),
            list(scarcity["generators"]),
            list(scarcity["shares"]),
        )


def cell_id(n: int | str, repeat: int, generator: str) -> str:
    """The cell's name in the stage's log (`25_0_smote`: n = 25, draw 0, generator smote)."""
    return f"{n}_{repeat}_{generator}"


def draw_frauds(train: pd.DataFrame, label: str, n: int | str, repeat: int) -> pd.DataFrame:
    """Every legitimate row of `train` plus n of its frauds (all for "all"), rows kept in their original order.
    Draw `repeat` is one random order of the frauds, of which the first n are kept: draws are nested in n."""
    fraud_idx = np.flatnonzero(train[label].to_numpy() == 1)
    if n == ALL:
        keep = fraud_idx
    else:
        order = np.random.default_rng(repeat).permutation(fraud_idx.size)
        keep = fraud_idx[np.sort(order[: int(n)])]
    mask = train[label].to_numpy() != 1
    mask[keep] = True
    return train.loc[mask].reset_index(drop=True)


def run_cell(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    schema: Schema,
    gen_type: str,
    hyperparameters: dict[str, Any],
    n: int | str,
    repeat: int,
    shares: list[float],
    detector: dict[str, Any],
    seeds: list[int],
    budget: float,
    sample_seed: int,
    backend: Backend | None = None,
) -> dict[str, Any]:
    """One cell of the sweep (see the module doc). Returns a JSON-ready dict; `status` is `ok`, `skipped` (n is not
    below the seed set's size: that n is the "all" cell) or `failed` (the generator could not fit or sample n
    rows; the reason is kept, and the sweep reports it instead of a verdict). The cell's detectors run on
    `backend` (`pipeline.core.compute`; default: in this process)."""
    label = schema.label
    n_seed = int(train[label].sum())
    out: dict[str, Any] = {
        "n_requested": n,
        "repeat": repeat,
        "generator_type": gen_type,
        "shares": list(shares),
        "seeds": list(seeds),
        "budget": budget,
        "seed_set_size": n_seed,
        "n_test_frauds": int((test[label] == 1).sum()),
    }
    if n != ALL and int(n) >= n_seed:
        return {**out, "status": SKIPPED, "reason": f"the seed set holds only {n_seed} frauds (n = {n} is 'all')"}
    sub = draw_frauds(train, label, n, repeat)
    n_real = int(sub[label].sum())
    out["n_frauds"] = n_real
    t0 = time.perf_counter()
    try:
        gen = fit_generator(gen_type, hyperparameters, sub, schema, seed=repeat)
        pool = gen.sample(n_synthetic(n_real, max(shares)), seed=pool_seed(sample_seed, repeat))
    except PipelineError as error:
        return {**out, "status": FAILED, "reason": str(error)}
    except Exception as error:  # a library failure on a tiny seed set is a result of the sweep, not a crash
        return {**out, "status": FAILED, "reason": short_reason(error)}
    out["generator_seconds"] = round(time.perf_counter() - t0, 2)

    X_valid, y_valid = schema.to_model_frame(valid), valid[label].to_numpy()
    fraud = test[label].to_numpy() == 1
    units = [(None, s) for s in seeds] + [(share, s) for share in shares for s in seeds]
    shared = {
        "sub": sub,
        "pool": pool,
        "schema": schema,
        "X_valid": X_valid,
        "y_valid": y_valid,
        "X_test_fraud": schema.to_model_frame(test.loc[fraud]),
        "detector": dict(detector),
        "budget": budget,
    }
    t0 = time.perf_counter()
    hits = (backend or Backend(SEQUENTIAL)).map(cell_hits, units, shared, what="detector")
    out["baseline"] = hits[: len(seeds)]
    out["augmented"] = {
        f"{share:g}": hits[len(seeds) * (k + 1) : len(seeds) * (k + 2)] for k, share in enumerate(shares)
    }
    out["detector_seconds"] = round(time.perf_counter() - t0, 2)
    return {**out, "status": OK}


def run_cells(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    schema: Schema,
    generators: dict[str, tuple[str, dict[str, Any]]],
    n_frauds: list,
    repeats: list[int],
    shares: list[float],
    detector: dict[str, Any],
    seeds: list[int],
    budget: float,
    sample_seed: int,
    cache: ResultCache,
    backend: Backend | None = None,
    log=print,
) -> dict[str, Any]:
    """Every cell of the sweep (`generators`: name -> (type, hyperparameters)), from `cache` where it holds them.
    Returns {"cells": {(n, repeat, name): cell}, "computed", "reused"}. A cell's key leaves out the generator's name,
    so a renamed generator with the same type and settings reuses its cells."""
    cells: dict[tuple[Any, int, str], dict[str, Any]] = {}
    computed = reused = 0
    for name, (gen_type, hp) in generators.items():
        for n in n_frauds:
            for r in repeats:
                key = cache.key(
                    what="scarcity",
                    n=n,
                    repeat=r,
                    generator_type=gen_type,
                    hyperparameters=hp,
                    shares=list(shares),
                    detector=detector,
                    seeds=list(seeds),
                    budget=budget,
                    sample_seed=sample_seed,
                )
                cell = cache.get_json(key)
                if cell is None:
                    log(f"scarcity: cell {cell_id(n, r, name)}: {gen_type} on {n} seed frauds (draw {r})")
                    cell = run_cell(
                        train,
                        valid,
                        test,
                        schema,
                        gen_type,
                        hp,
                        n,
                        r,
                        shares,
                        detector,
                        seeds,
                        budget,
                        sample_seed,
                        backend,
                    )
                    detail = {
                        OK: f"{cell.get('generator_seconds', 0):.1f}s generator, "
                        f"{cell.get('detector_seconds', 0):.1f}s detectors",
                        SKIPPED: cell.get("reason"),
                        FAILED: cell.get("reason"),
                    }[cell["status"]]
                    log(f"scarcity: cell {cell_id(n, r, name)}: {cell['status']} ({detail})")
                    cache.put_json(key, cell)
                    computed += 1
                else:
                    reused += 1
                cells[(n, r, name)] = {**cell, "generator": name}
    return {"cells": cells, "computed": computed, "reused": reused}


def sweep_table(cells: dict[tuple[Any, int, str], dict[str, Any]], grid: SweepGrid, ev: dict[str, Any]) -> pd.DataFrame:
    """One row per (generator, share, n) - plus the real-only recall at each n - from the cells of the current
    params: recall, the paired bootstrap CI of the difference vs real-only, lift and verdict."""
    n_frauds, repeats, generators, shares = grid.n_frauds, grid.repeats, grid.generators, grid.shares
    rows = []
    for g in generators:
        for n in n_frauds:
            cs = [cells[(n, r, g)] for r in repeats]
            base_row = {"generator": g, "n_requested": str(n), "n_draws": len(cs)}
            if all(c["status"] == SKIPPED for c in cs):
                continue
            bad = [c for c in cs if c["status"] != OK]
            if bad:
                for share in shares:
                    rows.append(
                        {
                            **base_row,
                            "share": share,
                            "config": f"{g}@{share:g}",
                            "verdict": "failed",
                            "n_frauds": bad[0].get("n_frauds"),
                            "reason": bad[0].get("reason", ""),
                        }
                    )
                continue
            n_real = int(cs[0]["n_frauds"])
            ref = np.stack([np.vstack([unbits(h) for h in c["baseline"]]) for c in cs])  # (draws, seeds, rows)
            for share in shares:
                cfg = np.stack([np.vstack([unbits(h) for h in c["augmented"][f"{share:g}"]]) for c in cs])
                b = paired_with(cfg, ref, ev)
                rows.append(
                    {
                        **base_row,
                        "share": share,
                        "config": f"{g}@{share:g}",
                        "n_frauds": n_real,
                        "recall": b["recall"],
                        "recall_lo": b["recall_lo"],
                        "recall_hi": b["recall_hi"],
                        "baseline_recall": b["ref_recall"],
                        "diff": b["diff"],
                        "diff_lo": b["diff_lo"],
                        "diff_hi": b["diff_hi"],
                        "lift": b["lift"],
                        "lift_lo": b["lift_lo"],
                        "lift_hi": b["lift_hi"],
                        "verdict": b["verdict"],
                        "reason": "",
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)


#: the exchange-rate table's columns (exchange.csv)
EXCHANGE_COLUMNS = [
    "config",
    "generator",
    "share",
    "n_frauds",
    "n_synthetic",
    "baseline_recall",
    "recall",
    "n_equivalent",
    "worth",
    "worth_lo",
    "worth_hi",
    "censored",
    "gain_per_doubling",
]


def equivalent_n(ns: np.ndarray, curve: np.ndarray, recall: float) -> tuple[float, str]:
    """The number of real frauds at which the real-only curve (recall at each n, made monotone by a running
    maximum) reaches `recall`, interpolated linearly in log n; ("", exact) or the nearest end of the curve with
    "below"/"above" when `recall` is outside the range the sweep measured."""
    mono = np.maximum.accumulate(curve)
    if recall <= mono[0]:
        return float(ns[0]), "below" if recall < mono[0] else ""
    if recall > mono[-1]:
        return float(ns[-1]), "above"
    i = int(np.flatnonzero(mono >= recall)[0])  # first n that reaches it; mono[i - 1] < recall <= mono[i]
    if mono[i] == recall:
        return float(ns[i]), ""
    t = (recall - mono[i - 1]) / (mono[i] - mono[i - 1])
    return float(np.exp(np.log(ns[i - 1]) + t * (np.log(ns[i]) - np.log(ns[i - 1])))), ""


def _gain_per_doubling(ns: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Recall added per doubling of the real frauds, from each n to the next (NaN at the largest n)."""
    out = np.full(len(ns), np.nan)
    out[:-1] = np.diff(curve) / np.log2(ns[1:] / ns[:-1])
    return out


def exchange_table(
    cells: dict[tuple[Any, int, str], dict[str, Any]], grid: SweepGrid, ev: dict[str, Any]
) -> pd.DataFrame:
    """What one synthetic fraud is worth in real frauds, per (generator, share, n): the real-only recall curve over
    n turns the augmented recall into an equivalent number of real frauds (`equivalent_n`), and
    worth = (n_equivalent - n) / n_synthetic. CI: the same bootstrap as the verdicts (test frauds, detector seeds and
    draws, the draws paired across n and configurations), the whole curve redrawn in each replicate. Also the
    value of labelling: recall gained per doubling of the real frauds on the real-only curve. A recall beyond the
    curve is read at its end, so at the largest n the worth is at most 0 in every replicate: its CI leans negative
    there (the verdict of the recall difference is the answer at that n)."""
    n_frauds, repeats, generators, shares = grid.n_frauds, grid.repeats, grid.generators, grid.shares
    rows = []
    for g in generators:
        ok = []
        for n in n_frauds:
            cs = [cells[(n, r, g)] for r in repeats]
            if all(c["status"] == OK for c in cs):
                ok.append((int(cs[0]["n_frauds"]), cs))
        if len(ok) < 2:
            continue
        ok.sort(key=lambda t: t[0])
        ns = np.array([n for n, _ in ok], dtype=float)

        def stack(cs: list, key: str | None) -> np.ndarray:
            return np.stack(
                [np.vstack([unbits(h) for h in (c["baseline"] if key is None else c["augmented"][key])]) for c in cs]
            ).astype(float)  # (draws, seeds, rows)

        base = [stack(cs, None) for _, cs in ok]
        d, k, m = base[0].shape
        rng = np.random.default_rng(ev["seed"])
        n_boot = int(ev["n_boot"])
        rows_w = rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot) / m
        seeds_w = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot) / k
        draws_w = rng.multinomial(d, np.full(d, 1.0 / d), size=n_boot) / d

        # (B,) recall in each replicate; the weights bound as defaults: defined in the loop, called in this pass only
        def replicate(h: np.ndarray, rows_w=rows_w, seeds_w=seeds_w, draws_w=draws_w) -> np.ndarray:
            return np.einsum("br,dsr,bs,bd->b", rows_w, h, seeds_w, draws_w)

        curve = np.array([h.mean() for h in base])
        curve_b = np.stack([replicate(h) for h in base], axis=1)  # (B, len(ns))
        gains = _gain_per_doubling(ns, curve)
        for share in shares:
            for i, (n, cs) in enumerate(ok):
                aug = stack(cs, f"{share:g}")
                n_syn = n_synthetic(n, share)
                if n_syn == 0:
                    continue
                recall = float(aug.mean())
                n_eq, censored = equivalent_n(ns, curve, recall)
                aug_b = replicate(aug)
                worth_b = np.array([(equivalent_n(ns, curve_b[b], aug_b[b])[0] - n) / n_syn for b in range(n_boot)])
                lo, hi = bootstrap_interval(worth_b, ev["ci"])
                rows.append(
                    {
                        "config": f"{g}@{share:g}",
                        "generator": g,
                        "share": share,
                        "n_frauds": n,
                        "n_synthetic": n_syn,
                        "baseline_recall": curve[i],
                        "recall": recall,
                        "n_equivalent": n_eq,
                        "worth": (n_eq - n) / n_syn,
                        "worth_lo": lo,
                        "worth_hi": hi,
                        "censored": censored,
                        "gain_per_doubling": gains[i],
                    }
                )
    return pd.DataFrame(rows, columns=EXCHANGE_COLUMNS)


def exchange_sentence(ex: pd.DataFrame) -> str:
    """One sentence: what synthetic rows were worth in real frauds at a middle n, and what labelling would add."""
    if ex.empty:
        return ""
    ns = sorted(set(ex["n_frauds"]))
    n = ns[(len(ns) - 1) // 2] if len(ns) > 1 else ns[0]
    at = ex[ex["n_frauds"] == n]
    r = at.sort_values("worth", ascending=False).iloc[0]
    worth = r["worth"] * r["n_synthetic"]
    where = {
        "above": " (at least: it beats the real-only detector at every n tried)",
        "below": " (at most: below the real-only detector at the smallest n)",
    }.get(r["censored"], "")
    s = (
        f"At {n} known frauds, {int(r['n_synthetic'])} synthetic rows from {r['generator']} (share "
        f"{r['share'] * 100:g}%) were worth about {worth:+.0f} real frauds{where} (CI "
        f"{r['worth_lo'] * r['n_synthetic']:+.0f}..{r['worth_hi'] * r['n_synthetic']:+.0f}; "
        f"{r['worth']:+.2f} real frauds per synthetic row)"
    )
    if np.isfinite(r["gain_per_doubling"]):
        s += (
            f"; doubling the known frauds to {2 * n} would add {signed(r['gain_per_doubling'])} recall on the "
            "real-only curve"
        )
    return s + "."


def _n_text(row: pd.Series) -> str:
    return f"all ({int(row['n_frauds'])})" if row["n_requested"] == ALL else str(int(row["n_frauds"]))


def series_sentence(g: pd.DataFrame, headline_text: str) -> str:
    """What one (generator, share) says across n, e.g. "below about 100 known frauds ... helps (...); from 100 up
    equivalent"."""
    g = g[g["verdict"] != "failed"].sort_values("n_frauds")
    if g.empty:
        return ""
    title = f"{g['generator'].iloc[0]} at {g['share'].iloc[0] * 100:g}%"
    verdicts = g["verdict"].tolist()

    def cite(r: pd.Series) -> str:
        ci = (
            f"{pct(r['lift_lo'])}..{pct(r['lift_hi'])}"
            if np.isfinite(r["lift_lo"]) and np.isfinite(r["lift_hi"])
            else f"difference {signed(r['diff_lo'])}..{signed(r['diff_hi'])}"
        )
        lift = pct(r["lift"]) if np.isfinite(r["lift"]) else f"difference {signed(r['diff'])}"
        return (
            f"{headline_text} {r['recall']:.2f} vs {r['baseline_recall']:.2f} real-only at n = {_n_text(r)} "
            f"({lift}, CI {ci})"
        )

    for verdict in (VERDICT_HELPS, VERDICT_HURTS):
        k = 0
        while k < len(verdicts) and verdicts[k] == verdict:
            k += 1
        if 0 < k < len(verdicts) and verdict not in verdicts[k:]:
            best = g.iloc[:k].sort_values("diff", ascending=verdict == VERDICT_HURTS).iloc[0]
            rest = set(verdicts[k:])
            after = (
                " or ".join(sorted(rest)) if rest <= set(NOT_SIGNIFICANT) else "mixed (" + ", ".join(sorted(rest)) + ")"
            )
            return (
                f"below about {_n_text(g.iloc[k])} known frauds {title} {verdict} ({cite(best)}); from "
                f"{_n_text(g.iloc[k])} up {after}."
            )
    if len(set(verdicts)) == 1 and verdicts[0] in NOT_SIGNIFICANT:
        return f"{title}: {verdicts[0]} at any n from {_n_text(g.iloc[0])} to {_n_text(g.iloc[-1])}."
    if len(set(verdicts)) == 1:
        best = g.sort_values("diff", ascending=verdicts[0] == VERDICT_HURTS).iloc[0]
        return f"{title} {verdicts[0]} at every n from {_n_text(g.iloc[0])} to {_n_text(g.iloc[-1])} ({cite(best)})."
    parts = []
    for verdict in dict.fromkeys((VERDICT_HELPS, VERDICT_HURTS, *NOT_SIGNIFICANT, *sorted(set(verdicts)))):
        ns = [_n_text(r) for _, r in g.iterrows() if r["verdict"] == verdict]
        if ns:
            parts.append(f"{verdict} at n = {', '.join(ns)}")
    return f"{title}: " + "; ".join(parts) + "."


def sweep_markdown(
    table: pd.DataFrame,
    headline_text: str,
    ev: dict[str, Any],
    seconds: float | None,
    skipped: list[str],
    plot_name: str,
    exchange: str = "",
) -> str:
    lines = ["# Scarcity sweep: does synthetic fraud help when few frauds are known?", ""]
    ok = table[table["verdict"] != "failed"] if not table.empty else table
    if ok.empty:
        lines += ["No cell of the sweep could be judged (see the failures below).", ""]
    else:
        per_series = {cfg: series_sentence(g, headline_text) for cfg, g in ok.groupby("config", sort=False)}
        score = ok.groupby("config", sort=False).apply(
            lambda g: ((g["verdict"] == VERDICT_HELPS).sum(), g["diff"].mean()),
            include_groups=False,  # type: ignore[call-overload]  # pandas-stubs 2.3 lacks include_groups
        )
        lead = score.sort_values(ascending=False).index[0]
        base = ok.drop_duplicates("n_frauds").sort_values("n_frauds")
        curve = ", ".join(f"{r['baseline_recall']:.2f} at n = {_n_text(r)}" for _, r in base.iterrows())
        if (ok["verdict"] == VERDICT_HELPS).any():
            lines += ["On this data, " + per_series[lead], ""]
        else:
            top = ok.sort_values("diff", ascending=False).iloc[0]
            lines += [
                f"No configuration helped beyond noise at any number of known frauds tried (n = "
                f"{_n_text(base.iloc[0])} to {_n_text(base.iloc[-1])}). Largest gain: {top['config']} at n = "
                f"{_n_text(top)}, {signed(top['diff'])} (CI {signed(top['diff_lo'])}..{signed(top['diff_hi'])}).",
                "",
            ]
        if exchange:
            lines += [
                exchange + " (exchange rate: the augmented recall read off the real-only recall curve over n; "
                "`exchange.csv`, `exchange_rate.png`)",
                "",
            ]
        lines += [f"Real-only {headline_text}: {curve}.", ""]
        if len(per_series) > 1 or not (ok["verdict"] == VERDICT_HELPS).any():
            lines += ["Per configuration:", ""] + [f"- {s}" for s in per_series.values() if s] + [""]
    lines += [
        f"Each n: {int(table['n_draws'].max()) if not table.empty else 0} random draws of n seed frauds (all "
        "legitimate training rows kept), the generator fitted on those n only; real-only and augmented "
        f"detectors trained on the same draw and scored on the same real test rows. CI: {ev['ci'] * 100:g}% "
        "paired bootstrap over test fraud rows, detector seeds and draws. These comparisons are not corrected "
        f"for multiplicity. Plot: `{plot_name}`.",
        "",
    ]
    if not table.empty:
        lines += [
            "| configuration | n real frauds | real-only recall | augmented recall | difference (CI) | lift | "
            "verdict |",
            "|---|---:|---:|---:|---|---:|---|",
        ]
        for _, r in table.sort_values(["config", "n_frauds"], na_position="last").iterrows():
            if r["verdict"] == "failed":
                lines.append(f"| {r['config']} | {r['n_requested']} | | | | | failed: {r['reason']} |")
                continue
            lines.append(
                f"| {r['config']} | {_n_text(r)} | {r['baseline_recall']:.3f} | {r['recall']:.3f} | "
                f"{signed(r['diff'])} ({signed(r['diff_lo'])}..{signed(r['diff_hi'])}) | "
                f"{pct(r['lift']) if np.isfinite(r['lift']) else ''} | {r['verdict']} |"
            )
        lines.append("")
    if skipped:
        lines += ["Not run: " + "; ".join(skipped) + ".", ""]
    if seconds is not None:
        lines += [f"Compute in the cells: {seconds:.0f} s (generator fits and detectors).", ""]
    return "\n".join(lines)
