"""The unseen-variant test: does synthetic fraud catch a fraud variant the detector has never trained on?

The claim users bring ("synthetic examples covered attack variations not yet seen") is tested leave-one-variant-out.
A **variant** is a value of `unseen.column` (a meta column or a feature; `{column, bins}` for a numeric one) among
the test frauds. For each variant v:

- v's fraud rows are removed from the training split AND the validation split: no generator, no early stopping and
  no threshold sees them (legitimate rows are all kept, so when the column is a feature the detector sees v's value
  only on legitimate rows - as it would before the first such fraud);
- the configured generators are fitted on the remaining seed set (the other variants' frauds), and the real-only and
  augmented detectors are trained on the cut rows (`pipeline.experiment.cells`);
- every detector is scored on the untouched real test rows at the headline budget (threshold from the validation
  legitimate rows): recall on v's test frauds answers the question, recall on the other variants' test frauds shows
  what a gain on v costs the known variants.

A **reference** detector trained on everything (v seen) says how much of v is catchable with its own examples.

Verdicts: the paired bootstrap of the recall difference (test frauds, detector seeds, generator fits;
`metrics.paired_bootstrap`) says `helps`/`hurts` when its CI excludes 0 - confirmed by an exact sign test on
the test frauds whose outcome differs, so that a handful of frauds cannot give a degenerate, too-narrow interval a
verdict. `too few to judge` only where nothing could be excluded: so few test frauds that even all of them going one
way would not be significant (n <= 5 at a 95% CI), never a fixed minimum count. A Bonferroni column repeats the
verdicts at the CI corrected for the number of comparisons.

Cells are cached apart (`pipeline.core.cache.ResultCache`): the real-only detectors per variant, each fitted
generator per (variant, generator, fit seed) and each augmented configuration per share, so adding a variant,
generator, share or fit seed runs only the new cells.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.cache import ResultCache
from pipeline.core.compute import SEQUENTIAL, Backend
from pipeline.core.errors import DataError, PipelineError
from pipeline.core.formats import signed
from pipeline.core.schema import Schema
from pipeline.data.segments import check_column, label_order, value_labels
from pipeline.experiment.blend import n_synthetic, pool_seed
from pipeline.experiment.cells import cell_hits, fit_generator, unbits
from pipeline.experiment.metrics import (
    PAIRED_COLUMNS,
    VERDICT_EQUIVALENT,
    VERDICT_HELPS,
    VERDICT_HURTS,
    VERDICT_INCONCLUSIVE,
    VERDICT_TOO_FEW,
    paired_with,
    verdict_counts,
    verdict_of,
)
from pipeline.generators.base import short_reason

REAL_ONLY = "real-only"
REFERENCE = "reference"
TOO_FEW = VERDICT_TOO_FEW
FAILED = "failed"
#: a variant column with more distinct values among the frauds is not a variant column (an amount, an id)
MAX_VARIANTS = 30
#: the unseen table's columns (reports/unseen/unseen.csv)
COLUMNS = [
    "variant_column",
    "variant",
    "cell",
    "config",
    "generator",
    "share",
    "n_test_frauds",
    "n_train_removed",
    "n_valid_removed",
    "n_seed_frauds",
    "n_synthetic",
    "seen_recall",
    "baseline_recall",
    *PAIRED_COLUMNS,
    "sign_p",
    "verdict",
    "verdict_adjusted",
    "known_n_frauds",
    "known_baseline_recall",
    "known_recall",
    "known_diff",
    "known_diff_lo",
    "known_diff_hi",
    "known_verdict",
    "reason",
]


@dataclass(frozen=True)
class Setup:
    """What the cells of one run share: the `unseen` params, the configured generators and the detector."""

    entry: Any  # unseen.column: a column name or {column, bins}
    generators: dict[str, tuple[str, dict[str, Any]]]  # name -> (type, hyperparameters)
    shares: list[float]
    fit_seeds: list[int]
    seeds: list[int]
    detector: dict[str, Any]
    budget: float
    sample_seed: int


def config_name(generator: str, share: float) -> str:
    return f"{generator}@{share:g}"


def variants(test: pd.DataFrame, entry: Any, label: str) -> tuple[str, list[str], pd.Series]:
    """(column, the variants among the test frauds in reading order, each test row's variant label)."""
    column = check_column(test, entry, "unseen.column")
    labels = value_labels(test, entry)
    found = label_order(entry, set(labels[test[label].to_numpy() == 1]))
    if len(found) > MAX_VARIANTS:
        raise DataError(
            f"unseen.column {column!r} has {len(found)} distinct values among the test frauds (more than "
            f"{MAX_VARIANTS}); name a categorical column of fraud kinds, or bin a numeric one with "
            f"{{column: {column}, bins: [edges]}}"
        )
    return column, found, labels


def without_variant(frame: pd.DataFrame, entry: Any, label: str, variant: str | None) -> tuple[pd.DataFrame, int]:
    """`frame` without the fraud rows of `variant` (all rows for None), in the original order; how many were removed."""
    if variant is None:
        return frame, 0
    drop = (frame[label].to_numpy() == 1) & (value_labels(frame, entry).to_numpy() == variant)
    return frame.loc[~drop].reset_index(drop=True), int(drop.sum())


def run_cells(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    schema: Schema,
    setup: Setup,
    cache: ResultCache,
    backend: Backend | None = None,
    log=print,
) -> dict[str, Any]:
    """Every cell of the test (see the module doc), from the cache where it holds them. Returns
    {"column", "variants", "variant_of_test_fraud", "cells": [...], "seconds", "computed", "reused"}; each cell holds
    per detector seed (and fit seed) which test frauds it alerts."""
    backend = backend or Backend(SEQUENTIAL)
    label = schema.label
    column, found, labels = variants(test, setup.entry, label)
    fraud = test[label].to_numpy() == 1
    X_test_fraud = schema.to_model_frame(test.loc[fraud])
    spec = {"entry": setup.entry, "detector": setup.detector, "budget": setup.budget, "seeds": setup.seeds}
    cells: list[dict[str, Any]] = []
    computed = reused = 0
    t_start = time.perf_counter()
    for variant in [None, *found]:
        sub, n_train = without_variant(train, setup.entry, label, variant)
        valid_v, n_valid = without_variant(valid, setup.entry, label, variant)
        X_valid, y_valid = schema.to_model_frame(valid_v), valid_v[label].to_numpy()
        shared = {
            "sub": sub,
            "schema": schema,
            "X_valid": X_valid,
            "y_valid": y_valid,
            "X_test_fraud": X_test_fraud,
            "detector": dict(setup.detector),
            "budget": setup.budget,
        }
        n_real = int(sub[label].sum())
        head = {"variant": variant, "n_train_removed": n_train, "n_valid_removed": n_valid, "n_seed_frauds": n_real}
        if n_real < 1 or not (y_valid == 1).any():
            reason = (
                f"no training frauds are left without {column}={variant}"
                if n_real < 1
                else f"no validation frauds are left without {column}={variant} (early stopping needs some)"
            )
            cells.append({**head, "config": REAL_ONLY, "status": FAILED, "reason": reason})
            for g in setup.generators:
                for share in setup.shares:
                    cells.append(
                        {
                            **head,
                            "config": config_name(g, share),
                            "generator": g,
                            "share": share,
                            "status": FAILED,
                            "reason": reason,
                        }
                    )
            continue
        key = cache.key(what="real-only", variant=variant, **spec)
        cell = cache.get_json(key)
        if cell is None:
            log(
                f"unseen: real-only detectors without {column}={variant}"
                if variant is not None
                else "unseen: real-only detectors trained on every variant (the seen reference)"
            )
            hits = backend.map(cell_hits, [(None, s) for s in setup.seeds], {**shared, "pool": None}, what="detector")
            cell = {**head, "config": REAL_ONLY, "status": "ok", "hits": [hits]}
            cache.put_json(key, cell)
            computed += 1
        else:
            reused += 1
        cells.append(cell)
        if variant is None:
            continue
        for g, (gen_type, hp) in setup.generators.items():
            for share in setup.shares:
                cell, c, r = _augmented_cell(
                    g, gen_type, hp, share, variant, sub, shared, head, setup, spec, cache, backend, log, column
                )
                computed, reused = computed + c, reused + r
                cells.append(cell)
    return {
        "column": column,
        "variants": found,
        "variant_of_test_fraud": labels[fraud].tolist(),
        "cells": cells,
        "seconds": round(time.perf_counter() - t_start, 1),
        "computed": computed,
        "reused": reused,
    }


def _augmented_cell(
    g: str,
    gen_type: str,
    hp: dict[str, Any],
    share: float,
    variant: str,
    sub: pd.DataFrame,
    shared: dict[str, Any],
    head: dict[str, Any],
    setup: Setup,
    spec: dict[str, Any],
    cache: ResultCache,
    backend: Backend,
    log,
    column: str,
) -> tuple[dict[str, Any], int, int]:
    """One augmented configuration without `variant`: hits per fit seed (each fit its own pool), from the cache
    where possible. Returns (cell, computed 0/1, reused 0/1)."""
    n_syn = n_synthetic(head["n_seed_frauds"], share)
    gen_spec = {"variant": variant, "column_spec": setup.entry, "type": gen_type, "hp": hp}
    key = cache.key(
        what="augmented", **spec, **gen_spec, share=share, fit_seeds=setup.fit_seeds, sample_seed=setup.sample_seed
    )
    cell = cache.get_json(key)
    if cell is not None:  # keyed by what the generator is, not what it is called: a renamed one reuses its cells
        return {**cell, "config": config_name(g, share), "generator": g}, 0, 1
    cell = {
        **head,
        "config": config_name(g, share),
        "generator": g,
        "share": share,
        "n_synthetic": n_syn,
        "fit_seeds": list(setup.fit_seeds),
        "hits": [],
    }
    for fit_seed in setup.fit_seeds:
        gen_key = cache.key(what="generator", **gen_spec, fit_seed=fit_seed)
        gen = cache.get_object(gen_key)
        try:
            if gen is None:
                log(f"unseen: {g} (fit seed {fit_seed}) on {head['n_seed_frauds']} frauds without {column}={variant}")
                gen = fit_generator(gen_type, hp, sub, schema=shared["schema"], seed=fit_seed)
                cache.put_object(gen_key, gen)
            pool = gen.sample(n_syn, seed=pool_seed(setup.sample_seed, fit_seed))
        except PipelineError as error:
            return {**cell, "status": FAILED, "reason": str(error), "hits": []}, 1, 0
        except Exception as error:  # a library failure on a small seed set is a result, not a crash
            return {**cell, "status": FAILED, "reason": short_reason(error), "hits": []}, 1, 0
        units = [(share, s) for s in setup.seeds]
        cell["hits"].append(backend.map(cell_hits, units, {**shared, "pool": pool}, what="detector"))
    cell["status"] = "ok"
    cache.put_json(key, cell)
    return cell, 1, 0


# ---------------------------------------------------------------------------------------------------- verdicts


def sign_test_p(config: np.ndarray, ref: np.ndarray) -> float:
    """Two-sided exact sign test over test frauds of the per-fraud alert rates (mean over fits and seeds):
    frauds caught more often by one side vs by the other; 1.0 when none differ."""
    d = config.reshape(-1, config.shape[-1]).mean(axis=0) - ref.reshape(-1, ref.shape[-1]).mean(axis=0)
    up, down = int((d > 0).sum()), int((d < 0).sum())
    n = up + down
    if n == 0:
        return 1.0
    k = min(up, down)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return float(min(1.0, 2.0 * tail))


def min_judgeable(ci: float) -> int:
    """The fewest test frauds for which any outcome could be significant: n with 2 x 0.5^n <= 1 - ci."""
    return int(math.ceil(math.log2(2.0 / (1.0 - ci))))


def judge(config: np.ndarray, ref: np.ndarray, ev: dict[str, Any], ci: float) -> dict[str, Any]:
    """The paired bootstrap of config vs ref at `ci`, with the verdict described in the module doc."""
    b = paired_with(config, ref, ev, ci)
    p = sign_test_p(config, ref)
    n = config.shape[-1]
    if n < min_judgeable(ci):
        verdict = TOO_FEW
    elif b["verdict"] in (VERDICT_HELPS, VERDICT_HURTS) and p > 1.0 - ci:
        # the interval excludes 0 but too few frauds differ for that to mean anything: not significant, and the
        # equivalence bounds still decide between equivalent and inconclusive
        verdict = verdict_of(-1.0, 1.0, b["eq_lo"], b["eq_hi"], ev.get("min_effect"))
    else:
        verdict = b["verdict"]
    return {**b, "sign_p": p, "verdict": verdict}


def _stack(cell: dict[str, Any]) -> np.ndarray:
    """(fits, seeds, test frauds) booleans of a cell."""
    return np.stack([np.vstack([unbits(h) for h in fit]) for fit in cell["hits"]])


def unseen_table(result: dict[str, Any], ev: dict[str, Any]) -> pd.DataFrame:
    """One row per (variant, configuration) - the real-only row first, as the reference - from `run_cells`."""
    column = result["column"]
    of = np.asarray(result["variant_of_test_fraud"], dtype=object)
    cells = result["cells"]
    seen = next((_stack(c) for c in cells if c["variant"] is None and c["status"] == "ok"), None)
    augmented = [c for c in cells if c["variant"] is not None and c["config"] != REAL_ONLY and c["status"] == "ok"]
    m = max(len(augmented), 1)
    adj_ci = 1.0 - (1.0 - ev["ci"]) / m
    base_of = {c["variant"]: c for c in cells if c["config"] == REAL_ONLY and c["variant"] is not None}
    refs: dict[str, np.ndarray] = {}
    rows = []
    for c in cells:
        v = c["variant"]
        if v is None:
            continue
        mask, known = of == v, of != v
        row = {
            "variant_column": column,
            "variant": v,
            "cell": f"{column}={v} | {c['config']}",
            "config": c["config"],
            "generator": c.get("generator"),
            "share": c.get("share", 0.0),
            "n_test_frauds": int(mask.sum()),
            "n_train_removed": c["n_train_removed"],
            "n_valid_removed": c["n_valid_removed"],
            "n_seed_frauds": c["n_seed_frauds"],
            "n_synthetic": c.get("n_synthetic", 0),
            "known_n_frauds": int(known.sum()),
            "reason": c.get("reason", ""),
        }
        base = base_of.get(v)
        if c["status"] != "ok" or base is None or base["status"] != "ok":
            rows.append(
                {
                    **row,
                    "verdict": FAILED,
                    "verdict_adjusted": FAILED,
                    "reason": c.get("reason") or (base or {}).get("reason", ""),
                }
            )
            continue
        if v not in refs:  # unpacked once per variant
            refs[v] = _stack(base)
        ref = refs[v]
        if seen is not None:
            row["seen_recall"] = float(seen[..., mask].mean())
        cfg = ref if c["config"] == REAL_ONLY else _stack(c)
        b = judge(cfg[..., mask], ref[..., mask], ev, ev["ci"])
        row.update({k: b[k] for k in (*PAIRED_COLUMNS, "sign_p")})
        row["baseline_recall"] = b["ref_recall"]
        if known.any():
            k = judge(cfg[..., known], ref[..., known], ev, ev["ci"])
            row.update(
                {
                    "known_baseline_recall": k["ref_recall"],
                    "known_recall": k["recall"],
                    "known_diff": k["diff"],
                    "known_diff_lo": k["diff_lo"],
                    "known_diff_hi": k["diff_hi"],
                }
            )
        if c["config"] == REAL_ONLY:
            row["verdict"] = row["verdict_adjusted"] = row["known_verdict"] = REFERENCE
            row["sign_p"] = np.nan
        else:
            row["verdict"] = b["verdict"]
            row["verdict_adjusted"] = judge(cfg[..., mask], ref[..., mask], ev, adj_ci)["verdict"]
            row["known_verdict"] = k["verdict"] if known.any() else ""
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


# ---------------------------------------------------------------------------------------------------- words


def _ci(r: pd.Series) -> str:
    return f"{signed(r['diff'])}, CI {signed(r['diff_lo'])}..{signed(r['diff_hi'])}"


def _title(config: str) -> str:
    g, share = config.rsplit("@", 1)
    return f"{g} at {float(share) * 100:g}%"


def variant_sentence(g: pd.DataFrame, headline_text: str) -> str:
    """What the test found for one variant, in plain words."""
    base = g[g["config"] == REAL_ONLY].iloc[0]
    aug = g[g["config"] != REAL_ONLY]
    name = f"**{base['variant_column']}={base['variant']}**"
    head = (
        f"{name} ({int(base['n_test_frauds'])} test frauds; {int(base['n_train_removed'])} training and "
        f"{int(base['n_valid_removed'])} validation frauds held out)"
    )
    if base["verdict"] == FAILED:
        return f"{head}: not run - {base['reason']}."
    seen = (
        f" ({base['seen_recall']:.2f} when trained with its own examples)"
        if np.isfinite(base.get("seen_recall", np.nan))
        else ""
    )
    lead = f"{head}: never seen in training, the real-only detector catches {base['baseline_recall']:.2f}{seen}"
    judged = aug[~aug["verdict"].isin([FAILED, TOO_FEW])]
    failed = aug[aug["verdict"] == FAILED]
    tail = (
        f" ({len(failed)} configuration{'s' if len(failed) > 1 else ''} failed: "
        f"{'; '.join(failed['config'] + ': ' + failed['reason'].astype(str))})"
        if not failed.empty
        else ""
    )
    if aug.empty or judged.empty:
        few = not aug[aug["verdict"] == TOO_FEW].empty
        return lead + (": too few test frauds to judge any configuration" if few else "") + f".{tail}"
    if base["baseline_recall"] == 0 and (judged["recall"] == 0).all():
        return (
            f"{lead}, and no augmented detector catches any of it either: no generator made its pattern from "
            f"the other variants' examples.{tail}"
        )
    parts = []
    for verdict, word in ((VERDICT_HELPS, "raised"), (VERDICT_HURTS, "lowered")):
        hit = judged[judged["verdict"] == verdict].sort_values("diff", ascending=verdict == VERDICT_HURTS)
        if not hit.empty:
            r = hit.iloc[0]
            more = f" (and {len(hit) - 1} more)" if len(hit) > 1 else ""
            known = (
                f"; on the other, known variants {r['known_recall']:.2f} vs {r['known_baseline_recall']:.2f} "
                f"real-only, {r['known_verdict']}"
                if np.isfinite(r.get("known_recall", np.nan))
                else ""
            )
            adj = "" if r["verdict_adjusted"] == verdict else ", not after the Bonferroni correction"
            parts.append(
                f"{_title(r['config'])}{more} {word} it to {r['recall']:.2f} ({_ci(r)}: {verdict}{adj}{known})"
            )
    if parts:
        return f"{lead}; " + "; ".join(parts) + f".{tail}"
    best = judged.sort_values("diff", ascending=False).iloc[0]
    if (judged["verdict"] == VERDICT_EQUIVALENT).all():
        how = "synthetic fraud left it unchanged: every configuration is equivalent to real-only on it"
    elif (judged["verdict"] == VERDICT_INCONCLUSIVE).any():
        how = "no configuration moved it beyond noise, but the data cannot rule out a gain worth having (inconclusive)"
    else:
        how = "no configuration moved it beyond noise"
    return f"{lead}; {how} (closest: {_title(best['config'])} {best['recall']:.2f}, {_ci(best)}).{tail}"


def headline(table: pd.DataFrame) -> str:
    """One sentence on the whole test (the first paragraph of the summaries)."""
    if table.empty:
        return ""
    column = table["variant_column"].iloc[0]
    aug = table[(table["config"] != REAL_ONLY) & ~table["verdict"].isin([FAILED, TOO_FEW])]
    variants_all = list(dict.fromkeys(table["variant"]))
    helped = list(dict.fromkeys(aug.loc[aug["verdict"] == VERDICT_HELPS, "variant"]))
    hurt = list(dict.fromkeys(aug.loc[aug["verdict"] == VERDICT_HURTS, "variant"]))
    judged = list(dict.fromkeys(aug["variant"]))
    flat = [v for v in judged if v not in helped and v not in hurt]
    not_judged = [v for v in variants_all if v not in judged]
    s = (
        f"Unseen attack variants (each of {len(variants_all)} values of {column} held out of training and "
        f"validation in turn): synthetic fraud raised recall on a variant the detector had never seen for "
        f"{len(helped)} of {len(judged)} judged variants"
    )
    if helped:
        best = aug[aug["verdict"] == VERDICT_HELPS].sort_values("diff", ascending=False).iloc[0]
        s += (
            f" (largest: {column}={best['variant']}, {_title(best['config'])}, {best['baseline_recall']:.2f} -> "
            f"{best['recall']:.2f}, {_ci(best)})"
        )
    s += f", lowered it for {len(hurt)}" + (f" ({', '.join(f'{column}={v}' for v in hurt)})" if hurt else "")
    s += f" and left it unchanged beyond noise for {len(flat)}"
    flat_verdicts = set(aug.loc[aug["variant"].isin(flat), "verdict"])
    if flat and flat_verdicts <= {VERDICT_EQUIVALENT, VERDICT_INCONCLUSIVE}:  # five-word verdicts (min_effect set)
        eq = [v for v in flat if (aug.loc[aug["variant"] == v, "verdict"] == VERDICT_EQUIVALENT).all()]
        parts = ([f"{len(eq)} equivalent for every configuration"] if eq else []) + (
            [f"{len(flat) - len(eq)} inconclusive for some"] if len(flat) > len(eq) else []
        )
        s += f" ({', '.join(parts)})"
    if not_judged:
        s += f"; {len(not_judged)} could not be judged ({', '.join(f'{column}={v}' for v in not_judged)})"
    return s + "."


def unseen_markdown(
    table: pd.DataFrame,
    result: dict[str, Any] | None,
    headline_text: str,
    ev: dict[str, Any],
    feature: bool,
    plot_name: str,
) -> str:
    lines = ["# Unseen attack variants: does synthetic fraud catch a variant the detector never trained on?", ""]
    if result is None:
        return "\n".join(
            lines
            + [
                "The unseen-variant test is off: set `unseen.column` in params.yaml to a column that "
                "names fraud kinds (a categorical column, or {column, bins} for a numeric one) to "
                "ask whether synthetic fraud catches a variant never trained on.",
                "",
            ]
        )
    if table.empty:
        return "\n".join(lines + ["No variant to test: the test split holds no frauds.", ""])
    column = result["column"]
    lines += [headline(table), ""]
    lines += [f"Per variant ({headline_text} on its test frauds; thresholds from the validation legitimate rows):", ""]
    lines += [f"- {variant_sentence(g, headline_text)}" for _, g in table.groupby("variant", sort=False)] + [""]
    if feature:
        lines += [
            f"`{column}` is itself a feature: in each cell the detector sees the held-out value only on "
            "legitimate rows, as it would before the first such fraud.",
            "",
        ]
    n_min = min_judgeable(ev["ci"])
    fits = max((len(c.get("fit_seeds", [])) for c in result["cells"]), default=1)
    lines += [
        f"Method: for each variant, its fraud rows are removed from the training and validation splits (no "
        "generator, early stopping or threshold sees them); the generators are fitted on the remaining seed "
        "frauds and the real-only and augmented detectors trained on the remaining rows; all are scored on the "
        f"same untouched test rows. CI: {ev['ci'] * 100:g}% paired bootstrap over test frauds"
        f"{', detector seeds and generator fits' if fits > 1 else ' and detector seeds'}; a helps/hurts "
        f"verdict is confirmed by an exact sign test on the frauds whose outcome differs; 'too few to judge' "
        f"below {n_min} test frauds, where not even a unanimous outcome could be significant. The Bonferroni "
        "column corrects for the number of comparisons. 'seen' is the real-only detector trained with every "
        f"variant. Plot: `{plot_name}`.",
        "",
    ]
    lines += [
        "| variant | test frauds | configuration | seen | real-only | augmented | difference (CI) | verdict | "
        "Bonferroni | known variants: real-only -> augmented (verdict) |",
        "|---|---:|---|---:|---:|---:|---|---|---|---|",
    ]
    for _, r in table[table["config"] != REAL_ONLY].iterrows():
        if r["verdict"] == FAILED:
            lines.append(
                f"| {r['variant']} | {int(r['n_test_frauds'])} | {r['config']} | | | | | failed: {r['reason']} | | |"
            )
            continue
        seen = f"{r['seen_recall']:.3f}" if np.isfinite(r.get("seen_recall", np.nan)) else ""
        known = (
            f"{r['known_baseline_recall']:.3f} -> {r['known_recall']:.3f} ({r['known_verdict']})"
            if np.isfinite(r.get("known_recall", np.nan))
            else ""
        )
        lines.append(
            f"| {r['variant']} | {int(r['n_test_frauds'])} | {r['config']} | {seen} | "
            f"{r['baseline_recall']:.3f} | {r['recall']:.3f} | {signed(r['diff'])} ({signed(r['diff_lo'])}.."
            f"{signed(r['diff_hi'])}) | {r['verdict']} | {r['verdict_adjusted']} | {known} |"
        )
    return "\n".join(lines + [""])


def metrics(table: pd.DataFrame, result: dict[str, Any] | None) -> dict[str, Any]:
    """DVC metrics of the test: verdict counts and, per variant, real-only vs the best augmented recall."""
    if result is None:
        return {"enabled": False}
    aug = table[table["config"] != REAL_ONLY]
    out: dict[str, Any] = {
        "enabled": True,
        "column": result["column"],
        "variants": len(result["variants"]),
        "verdicts": verdict_counts(aug["verdict"]),
        "per_variant": {},
    }
    for v, g in table.groupby("variant", sort=False):
        base = g[g["config"] == REAL_ONLY].iloc[0]
        entry: dict[str, Any] = {"n_test_frauds": int(base["n_test_frauds"])}
        ok = g[(g["config"] != REAL_ONLY) & (g["verdict"] != FAILED)]
        if base["verdict"] != FAILED:
            entry["real_only_recall"] = base["baseline_recall"]
            entry["seen_recall"] = base.get("seen_recall", np.nan)
        if not ok.empty:
            best = ok.sort_values("diff", ascending=False).iloc[0]
            entry.update(
                {
                    "best_config": best["config"],
                    "best_recall": best["recall"],
                    "best_diff": best["diff"],
                    "best_verdict": best["verdict"],
                }
            )
        out["per_variant"][str(v)] = entry
    return out
