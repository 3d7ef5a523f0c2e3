"""The comparison in words: the evaluate summary (`summary.md`) and its sections - the headline and decision
sentences, the comparison table, the gate, segments, targeted pools, the generator leaderboard - written from the
tables `pipeline.experiment.compare` builds. Text only: every number here is computed there."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from pipeline.core.formats import num, pct, percent, signed
from pipeline.experiment.challenger import best_config, challenger_config
from pipeline.experiment.compare import gate_label
from pipeline.experiment.grid import AUGMENTED, BASELINE, REWEIGHT
from pipeline.experiment.metrics import (
    VERDICT_EQUIVALENT,
    VERDICT_HELPS,
    VERDICT_HURTS,
    VERDICT_INCONCLUSIVE,
    VERDICT_TOO_FEW,
    VERDICTS,
)


def segments_markdown(seg: pd.DataFrame, headline_text: str, min_frauds: int, min_effect: float | None = None) -> str:
    """One sentence per segment where some configuration helps or hurts; the others in one line."""
    if seg.empty:
        return ""
    judged = seg[~seg["verdict"].isin(["reference", "too few to judge"])]
    lines = [
        "Per fraud segment (test frauds grouped by "
        + ", ".join(sorted(set(seg["segment_column"])))
        + "; thresholds from all validation legit rows; heat map: `plots/segment_lift.png`). These "
        f"{len(judged)} comparisons are not corrected for multiplicity: expect about {0.05 * len(judged):.0f} "
        "false helps/hurts by chance at a 95% CI.",
        "",
    ]
    quiet, few = [], []
    for name, g in seg.groupby("segment_name", sort=False):
        n = int(g["n_frauds"].iloc[0])
        base = float(g.loc[g["kind"] == BASELINE, "recall"].iloc[0])
        if n < min_frauds:
            few.append(f"{name} ({n})")
            continue
        parts = []
        for verdict in (VERDICT_HELPS, VERDICT_HURTS):
            hit = g[g["verdict"] == verdict].sort_values("diff", ascending=verdict == VERDICT_HURTS)
            if not hit.empty:
                r = hit.iloc[0]
                lift, ci = lift_text(r)
                more = f" (and {len(hit) - 1} more)" if len(hit) > 1 else ""
                parts.append(
                    f"{r['title']} {verdict}{more}: {headline_text} {r['recall']:.2f} vs {base:.2f} ({lift}, CI {ci})"
                )
        if parts:
            lines.append(f"- **{name}** ({n} test frauds, real-only recall {base:.2f}): " + "; ".join(parts) + ".")
        else:
            quiet.append(f"{name} ({n})")
    if quiet:
        lines.append(f"- No configuration helps or hurts beyond noise in: {', '.join(quiet)}.")
    if few:
        lines.append(f"- Too few test frauds to judge (< {min_frauds}): {', '.join(few)}.")
    power = []
    for name, g in judged.groupby("segment_name", sort=False):
        need = g["frauds_needed"].median() if "frauds_needed" in g else np.nan
        power.append(
            f"{name} +-{g['detectable'].median():.2f}"
            + (
                f" ({int(need):,} test frauds would detect +-{min_effect:g})"
                if _finite(need) and min_effect
                else " (every detector alerts the same frauds: no variation to measure)"
                if g["detectable"].median() == 0
                else ""
            )
        )
    if power:
        lines.append(
            "- Detectable difference per segment (80% power, median over configurations): " + "; ".join(power) + "."
        )
    return "\n".join(lines) + "\n"


def targeting_markdown(tt: pd.DataFrame, headline_text: str, target: dict[str, Any]) -> str:
    """Does targeting pay where it was aimed? One line per targeted configuration."""
    if tt.empty:
        return ""
    aim = (
        "topping up the smaller segments (balance)"
        if target["policy"] == "balance"
        else "weights " + ", ".join(f"{k}: {v:g}" for k, v in target["weights"].items())
    )
    lines = [
        f"Targeted vs untargeted pools (augment.target: {target['column']}, {aim}): {headline_text} of the "
        "targeted configuration minus its untargeted twin, per segment, with the paired 95% CI.",
        "",
    ]
    for cid, g in tt.groupby("config", sort=False):
        parts = []
        for _, r in g.iterrows():
            parts.append(
                f"{r['segment_name']} ({r['n_frauds']}): {r['recall']:.2f} vs {r['untargeted_recall']:.2f}, "
                f"{signed(r['diff'])} ({signed(r['diff_lo'])}..{signed(r['diff_hi'])}) {r['verdict']}"
            )
        lines.append(f"- **{cid}** vs {g['untargeted'].iloc[0]}: " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def leaderboard_markdown(board: pd.DataFrame, headline_text: str) -> str:
    if board.empty:
        return ""
    lines = [
        "Generator leaderboard (plot: `plots/leaderboard.png`): fidelity measured against real new frauds "
        "(detection AUC excess: how much easier the pool is to tell from the seed frauds than real new frauds "
        "are; lower is better), memorisation (DCR ratio: below 1 the pool sits closer to its seed rows than real "
        f"new frauds do), utility ({headline_text} minus real-only, for the pool's configuration that is best on "
        "validation).",
        "",
        "| generator | configuration | detection AUC excess | DCR ratio | exact copies | gate | recall difference "
        "(CI) | verdict |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for _, r in board.iterrows():
        lines.append(
            f"| {r['generator']} | {r['config']} | {num(r['detection_auc_excess'])} | {num(r['dcr_ratio'])} | "
            f"{percent(r['exact_copy_share'], 0)} | {r['gate']} | {signed(r['diff'])} "
            f"({signed(r['diff_lo'])}..{signed(r['diff_hi'])}) | {r['verdict']} |"
        )
    both = board.dropna(subset=["detection_auc_excess", "diff"])
    if len(both) >= 3:
        rho = float(
            pd.Series(both["detection_auc_excess"].to_numpy(dtype=float)).corr(
                pd.Series(both["diff"].to_numpy(dtype=float)), method="spearman"
            )
        )
        lines += [
            "",
            f"Does fidelity predict utility here? Spearman correlation between detection AUC excess and the "
            f"recall difference over {len(both)} pools: {num(rho, 2)} (negative: more faithful pools help "
            f"more). With {len(both)} points this is a hint, not a finding.",
        ]
    return "\n".join(lines) + "\n"


def challenger_sentence(table: pd.DataFrame) -> str:
    """Why the registered challenger was registered, and why the best configuration on validation was not, when
    they differ."""
    chosen = challenger_config(table)
    s = (
        f"Registered as the challenger: {chosen['title']} (best on validation among the admissible "
        f"configurations; {chosen.get('admission', 'no admission recorded')})."
    )
    top = best_config(table)
    if top["config"] != chosen["config"]:
        s += f" The best on validation, {top['title']}, was not admissible: {top.get('admission')}."
    return s


def _finite(*xs: Any) -> bool:
    return all(isinstance(x, (int, float, np.floating, np.integer)) and np.isfinite(x) for x in xs)


def lift_text(row: pd.Series) -> tuple[str, str]:
    """(lift, its CI) as shown beside a verdict. The CI shown never contradicts the verdict: when the lift
    or a bound of its CI is undefined or unbounded (the reference recall is 0, in the data or in the
    bootstrap draws at that bound), or its bounds disagree in sign with the verdict, the CI of the recall
    difference is shown instead."""
    verdict = row.get("verdict")
    d_lo, d_hi = row.get("diff_lo"), row.get("diff_hi")
    diff_ci = f"difference {signed(d_lo)}..{signed(d_hi)}"
    lift, lo, hi = row.get("lift"), row.get("lift_lo"), row.get("lift_hi")
    lo, hi = cast(float, lo), cast(float, hi)  # numbers wherever `_finite(lo, hi)` holds
    if not _finite(lift):
        return f"undefined (reference recall 0; difference {signed(row.get('diff'))})", diff_ci
    agrees = _finite(lo, hi) and (verdict == VERDICT_HELPS) == (lo > 0) and (verdict == VERDICT_HURTS) == (hi < 0)
    return pct(lift), (f"{pct(lo)}..{pct(hi)}" if agrees else diff_ci)


def summary_sentence(table: pd.DataFrame, headline_text: str) -> str:
    base = table[table["kind"] == BASELINE].iloc[0]
    aug = table[table["kind"] == AUGMENTED]
    if aug.empty:
        return (
            f"No augmented configuration was trained; the real-only baseline reached {headline_text} "
            f"{base['recall']:.2f}."
        )
    helps = aug[aug["verdict"] == VERDICT_HELPS]
    if not helps.empty:
        b = helps.sort_values(["diff_lo", "recall"], ascending=False).iloc[0]
        lift, ci = lift_text(b)
        s = (
            f"On this data, {b['generator']} at {b['share'] * 100:g}% synthetic share raised {headline_text} from "
            f"{b['baseline_recall']:.2f} to {b['recall']:.2f} ({lift}, CI {ci}): helps."
        )
        s += _gate_note(b)
        if b["verdict_adjusted"] != VERDICT_HELPS:
            s += (
                f" With {len(aug)} configurations compared, this does not survive a multiple-comparison "
                "(Bonferroni) correction: treat it as a lead to confirm, not a result."
            )
        return s
    b = best_config(table, (AUGMENTED,))
    n_hurt = int((aug["verdict"] == VERDICT_HURTS).sum())
    lift, ci = lift_text(b)
    s = (
        f"No generator beat the real-only baseline beyond noise: the best on validation, {b['generator']} at "
        f"{b['share'] * 100:g}% synthetic share, reached {headline_text} {b['recall']:.2f} against the baseline's "
        f"{b['baseline_recall']:.2f} ({lift}, CI {ci})."
    )
    if n_hurt:
        s += f" {n_hurt} of {len(aug)} configurations hurt."
    return s


def decision_sentence(table: pd.DataFrame, min_effect: float | None, reference_lift: float | None) -> str:
    """Flat or inconclusive? How the augmented configurations split over the verdicts, the detectable difference,
    and whether a gain the size of `reference_lift` (relative) would have been detected here, and is there."""
    aug = table[table["kind"] == AUGMENTED]
    if aug.empty:
        return ""
    counts = {v: int((aug["verdict"] == v).sum()) for v in VERDICTS}
    words = {
        VERDICT_HELPS: "help" if counts[VERDICT_HELPS] > 1 else "helps",
        VERDICT_EQUIVALENT: f"equivalent to real-only (no gain or loss beyond +-{num(min_effect, 2)})",
        VERDICT_INCONCLUSIVE: "inconclusive (the CI reaches past +-" + num(min_effect, 2) + ": the data cannot tell)",
        VERDICT_HURTS: "hurt" if counts[VERDICT_HURTS] > 1 else "hurts",
        VERDICT_TOO_FEW: "too few to judge",
    }
    parts = [f"{n} {words[v]}" for v, n in counts.items() if n]
    other = sorted(set(aug["verdict"]) - set(VERDICTS))
    parts += [f"{int((aug['verdict'] == v).sum())} {v}" for v in other]
    detectable = float(aug["detectable"].median())
    s = (
        f"Of {len(aug)} augmented configurations: {', '.join(parts)}. Detectable difference here (80% power): "
        f"+-{detectable:.3f} recall (median over configurations)."
    )
    if not reference_lift:
        return s
    base = float(table.loc[table["kind"] == BASELINE, "recall"].iloc[0])
    target = min(reference_lift * base, 1.0 - base)
    case = f"a gain the size of the published case (+{reference_lift * 100:g}% relative recall"
    if target <= 0:
        return s + f" The real-only detector already catches every test fraud: {case}) is not possible here."
    capped = " (capped at recall 1)" if reference_lift * base > 1.0 - base else ""
    s += (
        f" {case[0].upper()}{case[1:]}: {base:.2f} -> {base + target:.2f}, {signed(target)}{capped}) "
        f"{'would' if detectable <= target else 'would not reliably'} have been detected here"
    )
    hi = aug.sort_values("diff_hi", ascending=False).iloc[0]
    there = aug[aug["diff_lo"] >= target]
    if not there.empty:
        r = there.sort_values("diff_lo", ascending=False).iloc[0]
        return s + f"; it is there: {r['title']} reaches {signed(r['diff'])} (CI {signed(r['diff_lo'])}..)."
    if hi["diff_hi"] < target:
        return s + (
            f"; it is not there: no configuration's CI reaches {signed(target)} (highest upper bound "
            f"{signed(hi['diff_hi'])}, {hi['title']})."
        )
    return s + (f"; the data cannot rule it out: the CI of {hi['title']} reaches {signed(hi['diff_hi'])}.")


def _gate_note(row: pd.Series) -> str:
    passed = row.get("quality_passed", np.nan)
    if isinstance(passed, (bool, np.bool_)) and not passed:
        checks = str(row.get("quality_failed_checks", "") or "").replace(" ", ", ")
        return f" Its synthetic pool was flagged by the quality gate ({checks})."
    return ""


def summary_markdown(
    table: pd.DataFrame,
    headline_text: str,
    profile: dict | None = None,
    quality: dict[str, dict] | None = None,
    excluded: dict[str, str] | None = None,
    ci: float = 0.95,
    unseen: str | None = None,
    min_effect: float | None = None,
    reference_lift: float | None = None,
    train_report: dict | None = None,
) -> str:
    """The summary; `unseen` (the unseen-variant test's headline, reports/unseen/summary.md) joins the first
    paragraph, which then answers both questions: does it help on the variants we have, and on one never seen?"""
    first = summary_sentence(table, headline_text) + (f" {unseen} (reports/unseen/summary.md)" if unseen else "")
    lines = ["# Does synthetic fraud help the detector?", "", first, ""]
    decision = decision_sentence(table, min_effect, reference_lift)
    if decision:
        lines += [decision, ""]
    rew = table[table["kind"] == REWEIGHT]
    if not rew.empty:
        r = rew.iloc[0]
        lift, lift_ci = lift_text(r)
        lines += [
            f"Reweight baseline (real rows, `scale_pos_weight`): {headline_text} {r['recall']:.3f} "
            f"({lift} vs real-only, CI {lift_ci}: {r['verdict']}).",
            "",
        ]
    if profile:
        lines += [
            f"Data: {profile.get('source', '')}; {profile.get('split', '')} split; test rows "
            f"{profile.get('test', {}).get('rows')} with {profile.get('test', {}).get('frauds')} frauds.",
            "",
        ]
        lines += [leak_sentence(profile), ""] if leak_sentence(profile) else []
    if legit_fraction_sentence(train_report or {}):
        lines += [legit_fraction_sentence(train_report or {}), ""]
    fits = int(table["n_fits"].max()) if "n_fits" in table else 0
    levels = "test fraud rows, detector seeds and generator fits" if fits > 1 else "test fraud rows and seeds"
    lines += [
        f"Headline metric: {headline_text}, threshold chosen on the real validation rows, mean over detector "
        f"seeds{' and generator fits' if fits > 1 else ''}; CI: {ci * 100:g}% paired bootstrap over {levels}. "
        "The configuration registered as the challenger is chosen on the validation rows.",
        "",
        challenger_sentence(table),
        "",
    ]
    if fits > 1:
        lines += [fit_seed_sentence(table), ""]
    lines += [
        f"| configuration | synthetic rows | recall | {ci * 100:g}% CI | lift vs real-only | lift CI | verdict | "
        "detectable (80% power) | Bonferroni verdict | vs reweight | PR-AUC | quality gate |",
        "|---|---:|---:|---|---:|---|---|---:|---|---|---:|---|",
    ]
    for _, r in table.iterrows():
        q = (
            ""
            if pd.isna(r.get("quality_passed", np.nan))
            else (
                "pass"
                if r["quality_passed"]
                else "flagged: " + str(r.get("quality_failed_checks", "")).replace(" ", ", ")
            )
        )
        vr = r.get("verdict_vs_reweight", "")
        vr = "" if isinstance(vr, float) else vr
        lift, lift_ci = ("", "") if r["kind"] == BASELINE else lift_text(r)
        detectable = "" if r["kind"] == BASELINE or not _finite(r.get("detectable")) else f"+-{r['detectable']:.3f}"
        lines.append(
            f"| {r['title']} | {int(r['n_synthetic'])} | {r['recall']:.3f} | "
            f"{r['recall_lo']:.3f}..{r['recall_hi']:.3f} | "
            f"{lift} | {lift_ci} | {r['verdict']} | {detectable} | {r['verdict_adjusted']} | {vr} | "
            f"{r['pr_auc_mean']:.3f} | {q} |"
        )
    if quality:
        lines += ["", gate_markdown(quality)]
    if excluded:
        lines += ["", "Left out of training: " + "; ".join(f"{g} ({why})" for g, why in excluded.items())]
    return "\n".join(lines) + "\n"


def legit_fraction_sentence(train_report: dict) -> str:
    """The note that detectors trained on a sample of the legitimate training rows (`data.legit_fraction`), or ""."""
    fraction = train_report.get("legit_fraction", 1.0)
    if fraction >= 1.0:
        return ""
    return (
        f"**Sampled training rows:** detectors trained on every training fraud and a seeded {fraction:.1%} of the "
        f"legitimate training rows ({train_report.get('train_rows_used')} of {train_report.get('train_rows')} rows), "
        f"each weighted {1 / fraction:g} (data.legit_fraction); validation and test rows were not sampled, so every "
        "figure here is measured on the full validation and test splits."
    )


def leak_sentence(profile: dict) -> str:
    """The likely-leak warning `prepare` recorded in profile.json (input_contract.likely_leaks), or ""."""
    leaks = (profile.get("input_contract") or {}).get("likely_leaks") or []
    if not leaks:
        return ""
    named = ", ".join(f"`{d['column']}` (AUC {d['auc']:.3f})" for d in leaks)
    return (
        f"**Likely leak:** {named} on its own separates fraud from legitimate training rows almost perfectly; "
        "such a column is usually a label proxy (a chargeback flag) known only after the fact, and every recall "
        "figure here may be inflated by it. Drop it (data.drop_columns) unless it is known when a transaction is "
        "scored."
    )


def fit_seed_sentence(table: pd.DataFrame) -> str:
    """How much of the difference CIs' width comes from generator randomness (several fit seeds)."""
    aug = table[(table["kind"] == AUGMENTED) & (table["n_fits"] > 1)].dropna(subset=["diff_ci_width"])
    if aug.empty:
        return ""
    w, w0 = aug["diff_ci_width"].to_numpy(), aug["diff_ci_width_without_fits"].to_numpy()
    # the share of the width the fits add (0 when drawing them happens to give a narrower interval: bootstrap noise)
    share = np.clip(np.where(w > 0, 1.0 - w0 / np.where(w > 0, w, 1.0), 0.0), 0.0, 1.0)
    top = aug.iloc[int(np.argmax(share))]
    return (
        f"Generator randomness: each generator was fitted {int(aug['n_fits'].max())} times (augment.fit_seeds) and "
        f"the bootstrap draws the fits too. The CI of the recall difference is a median {np.median(w):.3f} wide "
        f"with the fits drawn and {np.median(w0):.3f} with them averaged: for the median configuration "
        f"{np.median(share) * 100:.0f}% of the width comes from which fit was drawn, for "
        f"{int((share >= 0.25).sum())} of {len(aug)} configurations a quarter or more (most for {top['title']}: "
        f"{top['diff_ci_width_without_fits']:.3f} -> {top['diff_ci_width']:.3f}, {share.max() * 100:.0f}%). "
        "With one fit seed this part of the uncertainty would go unseen." + _verdict_changes(aug)
    )


def _verdict_changes(aug: pd.DataFrame) -> str:
    """Which verdicts generator randomness changes (the verdict with the fits averaged instead of drawn)."""
    if "verdict_without_fits" not in aug:
        return ""
    changed = aug[aug["verdict_without_fits"].notna() & (aug["verdict_without_fits"] != aug["verdict"])]
    if changed.empty:
        return " No verdict changes when the fits are averaged instead of drawn."
    return (
        f" {len(changed)} verdict{'s' if len(changed) > 1 else ''} would differ with one fit's randomness left "
        "out: "
        + ", ".join(
            f"{r['title']} {r['verdict']} (averaged: {r['verdict_without_fits']})" for _, r in changed.iterrows()
        )
        + "."
    )


def gate_markdown(quality: dict[str, dict]) -> str:
    """The quality and privacy gate in plain words: what it measures, the real-new-frauds reference, each pool
    against it, and the table."""
    first = next((q for q in quality.values() if not q.get("failed")), None)
    if first is None:
        return "Quality and privacy gate: no pool was made.\n"
    limit = {k: (c or {}).get("threshold") for k, c in (first.get("checks") or {}).items()}
    ref_auc, ref_q = first.get("detection_auc_real_reference"), first.get("quality_score_real_reference")
    lines = [
        "Quality and privacy gate per synthetic pool. It compares each pool with **real new frauds**: the "
        "validation split's frauds, which no generator saw, measured against the seed set in the same way. "
        + (
            f"A classifier tells those real new frauds from the seed frauds with AUC {num(ref_auc)} (0.5 = "
            f"indistinguishable; fraud drifts between periods), and their SDMetrics quality score against the "
            f"seed set is {num(ref_q)}. "
            if ref_auc is not None
            else "There are too few real held-out frauds for that reference here, so only the absolute checks run. "
        )
        + "A pool is flagged when it is easier to tell from the seed frauds than real new frauds are by more "
        f"than {num(limit.get('detection_auc_excess'), 2)} AUC beyond the noise (the lower bound of the 90% "
        "bootstrap interval of that excess above it; a reference below chance counts as 0.5), when its quality "
        "score is more than "
        f"{num(limit.get('quality_score_drop'), 2)} below theirs (or below {num(limit.get('quality_score'), 2)}), "
        f"when more than {percent(limit.get('exact_copy_share'), 0)} of its rows copy a seed row, or when it "
        f"sits much closer to its seed rows than real new frauds do (DCR ratio below "
        f"{num(limit.get('dcr_ratio'), 2)}: memorising). A flagged pool is still trained on unless "
        "quality.exclude_failed; the retrain guardrail does not promote it unless retrain.allow_flagged_pool.",
        "",
    ]
    for g, q in quality.items():
        if q.get("failed"):
            lines.append(f"- {g}: no pool ({q['failed']}).")
            continue
        excess = q.get("detection_auc_excess")
        told = f"told apart with AUC {num(q.get('detection_auc'))}" + (
            f", {signed(excess, 3)} vs real new frauds (90% interval "
            f"{signed(q.get('detection_auc_excess_lo'), 3)}..{signed(q.get('detection_auc_excess_hi'), 3)})"
            if excess is not None
            else ""
        )
        lines.append(
            f"- {g}: {told}; quality {num(q.get('quality_score'))}; DCR ratio {num(q.get('dcr_ratio'))}; "
            f"exact copies {percent(q.get('exact_copy_share'), 0)}: **{gate_label(q)}**."
        )
    lines += [
        "",
        "| generator | quality score | drop vs real new frauds | exact copies | DCR ratio (pool/holdout) | "
        "detection AUC | excess vs real new frauds | gate |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for g, q in quality.items():
        lines.append(
            f"| {g} | {num(q.get('quality_score'))} | {num(q.get('quality_score_drop'))} | "
            f"{num(q.get('exact_copy_share'))} | {num(q.get('dcr_ratio'))} | {num(q.get('detection_auc'))} | "
            f"{num(q.get('detection_auc_excess'))} | {gate_label(q)} |"
        )
    return "\n".join(lines)
