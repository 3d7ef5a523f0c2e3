"""The comparison: every configuration against the real-only baseline, the reweight baseline
and the best oversampler, with paired bootstrap CIs and a verdict.

Input: per detector (config, seed) its validation and test scores. Output: one row per
configuration (`comparison.csv`), the DVC metrics dict and the plain-language summary.
Verdicts follow the DESIGN definitions: `helps` if the 95% CI of the paired difference
(equivalently of the lift) lies above 0, `hurts` if below, else `no clear effect`. A
Bonferroni-adjusted verdict over all augmented configurations is reported beside it, because
with many configurations one will look good by chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from pipeline.core.formats import num, pct, percent, signed
from pipeline.experiment.grid import AUGMENTED, BASELINE, REWEIGHT
from pipeline.experiment.metrics import (
    VERDICT_EQUIVALENT,
    VERDICT_HELPS,
    VERDICT_HURTS,
    VERDICT_INCONCLUSIVE,
    VERDICT_TOO_FEW,
    VERDICTS,
    detector_metrics,
    frauds_needed,
    metric_names,
    paired_with,
    pct_label,
    recall_at_threshold,
    seed_mean_std,
    verdict_counts,
)
from pipeline.quality.reports import failed_checks, gate_status


@dataclass
class DetectorScores:
    config: str
    title: str
    kind: str
    generator: str | None
    share: float
    seed: int
    family: str | None
    n_real_fraud: int
    n_synthetic: int
    valid: np.ndarray
    test: np.ndarray
    fit_seed: int | None = None  # the generator's fit seed (None: the baselines, which have no generator)
    model: str = ""  # the detector file, relative to models/detectors


def _order(d: DetectorScores) -> tuple[int, int]:
    """Detectors of a configuration in (fit seed, detector seed) order."""
    return (-1 if d.fit_seed is None else d.fit_seed, d.seed)


def headline_name(eval_params: dict[str, Any]) -> str:
    return f"recall_at_fpr_{pct_label(eval_params['fpr_budgets'][0])}"


def compare(detectors: list[DetectorScores], y_valid: np.ndarray, y_test: np.ndarray,
            eval_params: dict[str, Any], quality: dict[str, dict] | None = None,
            hits: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per configuration with mean/std metrics over seeds, CIs, lifts and verdicts. `hits` (from
    `headline_hits`) may be passed when the caller needs them too (segment verdicts), so they are computed once."""
    ev = eval_params
    names = metric_names(ev["fpr_budgets"], ev["precision_floors"], ev["top_k"])
    headline = headline_name(ev)
    thr_name = headline.replace("recall_at_fpr_", "threshold_at_fpr_")

    by_config: dict[str, list[DetectorScores]] = {}
    for d in detectors:
        by_config.setdefault(d.config, []).append(d)
    rows = []
    if hits is None:
        hits = headline_hits(detectors, y_valid, y_test, ev["fpr_budgets"][0])
    for cid, ds in by_config.items():
        ds = sorted(ds, key=_order)
        fits = sorted({d.fit_seed for d in ds if d.fit_seed is not None})
        per_seed = [detector_metrics(y_valid, d.valid, y_test, d.test, ev["fpr_budgets"], ev["precision_floors"],
                                     ev["top_k"]) for d in ds]
        # selection metrics on the VALIDATION rows: the best config is chosen here, never on test
        valid_recall = [recall_at_threshold(y_valid, d.valid, m[thr_name]) for d, m in zip(ds, per_seed)]
        valid_ap = [float(average_precision_score(y_valid, d.valid)) for d in ds]
        first = ds[0]
        row: dict[str, Any] = {
            "config": cid, "title": first.title, "kind": first.kind, "generator": first.generator,
            "family": first.family, "share": first.share, "n_seeds": len({d.seed for d in ds}),
            "seeds": " ".join(str(d.seed) for d in ds), "n_fits": len(fits),
            "fit_seeds": " ".join(str(f) for f in fits),
            "n_real_fraud": first.n_real_fraud, "n_synthetic": first.n_synthetic,
            "valid_recall_mean": float(np.mean(valid_recall)), "valid_pr_auc_mean": float(np.mean(valid_ap)),
        }
        for n in names:
            mean, std = seed_mean_std([m[n] for m in per_seed])
            row[f"{n}_mean"], row[f"{n}_std"] = mean, std
        for n in names:
            row[f"{n}_per_seed"] = " ".join(f"{m[n]:.6g}" for m in per_seed)
        if quality and first.generator in quality:
            q = quality[first.generator]
            row["quality_passed"] = q.get("passed")
            row["quality_failed_checks"] = " ".join(failed_checks(q))
            row["quality_score"] = q.get("quality_score")
            row["exact_copy_share"] = q.get("exact_copy_share")
            row["dcr_ratio"] = (q.get("dcr") or {}).get("ratio", q.get("dcr_ratio"))
            row["detection_auc"] = q.get("detection_auc")
        rows.append(row)
    table = pd.DataFrame(rows)

    seeds_of = {cid: sorted({d.seed for d in ds}) for cid, ds in by_config.items()}
    multi_fit = bool((table["n_fits"] > 1).any())
    base = _find(table, BASELINE)
    rew = _find(table, REWEIGHT)
    aug = table.index[table["kind"] == AUGMENTED].tolist()
    m = max(len(aug), 1)
    adj_ci = 1.0 - (1.0 - ev["ci"]) / m

    def paired(cid: str, ref: str, ci: float) -> dict:
        if seeds_of[cid] != seeds_of[ref]:
            raise ValueError(f"{cid} and {ref} were trained with different seeds; cannot pair them")
        return paired_with(hits[cid], hits[ref], ev, ci)

    out_cols: dict[str, list] = {}

    def put(i: int, key: str, value: Any) -> None:
        out_cols.setdefault(key, [np.nan] * len(table))[i] = value

    best_over = _best_oversampler(table)
    valid_hits = headline_hits(detectors, y_valid, y_valid, ev["fpr_budgets"][0], on="valid")
    for i, row in table.iterrows():
        cid = row["config"]
        b = paired(cid, base, ev["ci"])
        if row["kind"] == AUGMENTED:  # beyond noise on VALIDATION, Bonferroni over the augmented configurations
            v = paired_with(valid_hits[cid], valid_hits[base], ev, adj_ci)
            put(i, "valid_diff", v["diff"])
            put(i, "valid_diff_lo", v["diff_lo"])
            put(i, "valid_diff_hi", v["diff_hi"])
            put(i, "valid_verdict_adjusted", v["verdict"])
        admissible, why = _admission(row, v["diff_lo"] if row["kind"] == AUGMENTED else None, adj_ci)
        put(i, "admissible", admissible)
        put(i, "admission", why)
        if multi_fit and row["n_fits"] > 1:
            # how much of the difference CI's width generator randomness contributes: the same interval with
            # the fits averaged instead of drawn
            fixed = paired_with(hits[cid], hits[base], ev, resample_fits=False)
            put(i, "diff_ci_width", b["diff_hi"] - b["diff_lo"])
            put(i, "diff_ci_width_without_fits", fixed["diff_hi"] - fixed["diff_lo"])
            put(i, "verdict_without_fits", fixed["verdict"])
        put(i, "recall", b["recall"])
        put(i, "recall_lo", b["recall_lo"])
        put(i, "recall_hi", b["recall_hi"])
        put(i, "baseline_recall", b["ref_recall"])
        for k in ("diff", "diff_lo", "diff_hi", "lift", "lift_lo", "lift_hi", "eq_lo", "eq_hi", "detectable"):
            put(i, k, b[k])
        if row["kind"] == BASELINE:
            put(i, "verdict", "reference")
            put(i, "verdict_adjusted", "reference")
        else:
            put(i, "verdict", b["verdict"])
            adj = paired(cid, base, adj_ci) if row["kind"] == AUGMENTED else b
            put(i, "verdict_adjusted", adj["verdict"])
        if rew is not None and row["kind"] == AUGMENTED:
            r = paired(cid, rew, ev["ci"])
            put(i, "lift_vs_reweight", r["lift"])
            put(i, "lift_vs_reweight_lo", r["lift_lo"])
            put(i, "lift_vs_reweight_hi", r["lift_hi"])
            put(i, "verdict_vs_reweight", r["verdict"])
        if best_over is not None and row["kind"] == AUGMENTED and row["family"] != "oversampler":
            o = paired(cid, best_over, ev["ci"])
            put(i, "best_oversampler", best_over)
            put(i, "lift_vs_best_oversampler", o["lift"])
            put(i, "lift_vs_best_oversampler_lo", o["lift_lo"])
            put(i, "lift_vs_best_oversampler_hi", o["lift_hi"])
            put(i, "verdict_vs_best_oversampler", o["verdict"])
    for k, v in out_cols.items():
        table[k] = v
    table.insert(0, "headline_metric", headline)
    order = {BASELINE: 0, REWEIGHT: 1, AUGMENTED: 2}
    table = table.sort_values(by=["kind", "generator", "share"], key=lambda s: s.map(order) if s.name == "kind" else s,
                              na_position="first").reset_index(drop=True)
    return table


def headline_hits(detectors: list[DetectorScores], y_valid: np.ndarray, y_test: np.ndarray,
                  budget: float, on: str = "test") -> dict[str, np.ndarray]:
    """{config: (n_seeds, n_test_frauds) bool, or (n_fits, n_seeds, n_test_frauds) for a generator fitted with
    several fit seeds}: which test frauds each detector alerts at the headline budget (threshold from the
    validation legit rows), fits and seeds in ascending order. `on="valid"`: the same for the validation frauds
    (`y_test` is then ignored), for choices made without the test rows."""
    from pipeline.experiment.metrics import threshold_at_fpr

    if on not in ("test", "valid"):
        raise ValueError(f"on must be 'test' or 'valid', got {on!r}")
    fraud, legit = np.asarray(y_test if on == "test" else y_valid) == 1, np.asarray(y_valid) == 0

    def rows(d: DetectorScores) -> np.ndarray:
        return d.test if on == "test" else d.valid
    by_config: dict[str, dict[int | None, list[DetectorScores]]] = {}
    for d in detectors:
        by_config.setdefault(d.config, {}).setdefault(d.fit_seed, []).append(d)
    out = {}
    for cid, by_fit in by_config.items():
        per_fit = [np.vstack([rows(d)[fraud] >= threshold_at_fpr(d.valid[legit], budget)
                              for d in sorted(ds, key=lambda d: d.seed)])
                   for _, ds in sorted(by_fit.items(), key=lambda kv: -1 if kv[0] is None else kv[0])]
        if len({h.shape for h in per_fit}) > 1:
            raise ValueError(f"{cid}: its generator fits were trained with different detector seeds; cannot pair them")
        out[cid] = per_fit[0] if len(per_fit) == 1 else np.stack(per_fit)
    return out


def segment_table(table: pd.DataFrame, hits: dict[str, np.ndarray], y_test: np.ndarray, segments: list,
                  eval_params: dict[str, Any]) -> pd.DataFrame:
    """One row per (configuration, segment): recall on the segment's test frauds, the paired bootstrap CI of the
    difference and lift vs the real-only baseline, and a verdict ("too few to judge" below min_segment_frauds)."""
    ev = eval_params
    fraud = np.asarray(y_test) == 1
    base = _find(table, BASELINE)
    rows = []
    for seg in segments:
        m = np.asarray(seg.mask)[fraud]
        n = int(m.sum())
        for _, r in table.iterrows():
            row = {"config": r["config"], "title": r["title"], "kind": r["kind"], "generator": r["generator"],
                   "share": r["share"], "segment_column": seg.column, "segment": seg.value, "segment_name": seg.name,
                   "n_frauds": n}
            if n == 0:
                continue
            b = paired_with(hits[r["config"]][..., m], hits[base][..., m], ev)
            row.update({k: b[k] for k in ("recall", "recall_lo", "recall_hi", "diff", "diff_lo", "diff_hi", "lift",
                                          "lift_lo", "lift_hi", "detectable")})
            row["baseline_recall"] = b["ref_recall"]
            row["verdict"] = ("reference" if r["kind"] == BASELINE else
                              VERDICT_TOO_FEW if n < ev["min_segment_frauds"] else b["verdict"])
            if r["kind"] != BASELINE:
                row["frauds_needed"] = frauds_needed(n, b["detectable"], ev.get("min_effect"))
            rows.append(row)
    return pd.DataFrame(rows)


def segments_markdown(seg: pd.DataFrame, headline_text: str, min_frauds: int, min_effect: float | None = None) -> str:
    """One sentence per segment where some configuration helps or hurts; the others in one line."""
    if seg.empty:
        return ""
    judged = seg[~seg["verdict"].isin(["reference", "too few to judge"])]
    lines = ["Per fraud segment (test frauds grouped by " + ", ".join(sorted(set(seg["segment_column"]))) +
             "; thresholds from all validation legit rows; heat map: `plots/segment_lift.png`). These "
             f"{len(judged)} comparisons are not corrected for multiplicity: expect about {0.05 * len(judged):.0f} "
             "false helps/hurts by chance at a 95% CI.", ""]
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
                parts.append(f"{r['title']} {verdict}{more}: {headline_text} {r['recall']:.2f} vs {base:.2f} "
                             f"({lift}, CI {ci})")
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
        power.append(f"{name} +-{g['detectable'].median():.2f}" + (
            f" ({int(need):,} test frauds would detect +-{min_effect:g})" if _finite(need) and min_effect else
            " (every detector alerts the same frauds: no variation to measure)" if g["detectable"].median() == 0
            else ""))
    if power:
        lines.append("- Detectable difference per segment (80% power, median over configurations): "
                     + "; ".join(power) + ".")
    return "\n".join(lines) + "\n"


def targeting_table(table: pd.DataFrame, hits: dict[str, np.ndarray], y_test: np.ndarray, segments: list,
                    eval_params: dict[str, Any]) -> pd.DataFrame:
    """Each targeted configuration (`g+target@s`) against its untargeted twin (`g@s`) on every segment of the
    target column: recall of both on the segment's test frauds, the paired bootstrap CI of the difference and a
    verdict ("too few to judge" below min_segment_frauds). Empty when nothing was targeted."""
    from pipeline.generators.targeting import split_name

    ev = eval_params
    fraud = np.asarray(y_test) == 1
    configs = set(table["config"])
    rows = []
    for cid in table["config"]:
        gen, _, share = cid.partition("@")
        base, targeted = split_name(gen)
        twin = f"{base}@{share}"
        if not targeted or twin not in configs:
            continue
        for seg in segments:
            m = np.asarray(seg.mask)[fraud]
            n = int(m.sum())
            if n == 0:
                continue
            b = paired_with(hits[cid][..., m], hits[twin][..., m], ev)
            rows.append({"config": cid, "untargeted": twin, "segment_name": seg.name, "n_frauds": n,
                         "recall": b["recall"], "untargeted_recall": b["ref_recall"], "diff": b["diff"],
                         "diff_lo": b["diff_lo"], "diff_hi": b["diff_hi"],
                         "verdict": VERDICT_TOO_FEW if n < ev["min_segment_frauds"] else b["verdict"]})
    return pd.DataFrame(rows)


def targeting_markdown(tt: pd.DataFrame, headline_text: str, target: dict[str, Any]) -> str:
    """Does targeting pay where it was aimed? One line per targeted configuration."""
    if tt.empty:
        return ""
    aim = ("topping up the smaller segments (balance)" if target["policy"] == "balance" else
           "weights " + ", ".join(f"{k}: {v:g}" for k, v in target["weights"].items()))
    lines = [f"Targeted vs untargeted pools (augment.target: {target['column']}, {aim}): {headline_text} of the "
             "targeted configuration minus its untargeted twin, per segment, with the paired 95% CI.", ""]
    for cid, g in tt.groupby("config", sort=False):
        parts = []
        for _, r in g.iterrows():
            parts.append(f"{r['segment_name']} ({r['n_frauds']}): {r['recall']:.2f} vs {r['untargeted_recall']:.2f}, "
                         f"{signed(r['diff'])} ({signed(r['diff_lo'])}..{signed(r['diff_hi'])}) {r['verdict']}")
        lines.append(f"- **{cid}** vs {g['untargeted'].iloc[0]}: " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def leaderboard(table: pd.DataFrame, quality: dict[str, dict]) -> pd.DataFrame:
    """One row per pool (generator, or targeted pool): fidelity (calibrated: detection AUC excess and quality drop
    vs real new frauds), memorisation (DCR ratio, exact copies), and utility - the recall difference vs real-only,
    with its CI, of the pool's configuration that is best on the VALIDATION rows (chosen without the test rows,
    like the challenger)."""
    rows = []
    aug = table[table["kind"] == AUGMENTED]
    for gen, g in aug.groupby("generator", sort=False):
        best = best_config(g, (AUGMENTED,))
        q = quality.get(gen, {})
        rows.append({"generator": gen, "family": best.get("family"), "config": best["config"],
                     "detection_auc_excess": q.get("detection_auc_excess"),
                     "quality_score_drop": q.get("quality_score_drop"), "dcr_ratio": q.get("dcr_ratio"),
                     "exact_copy_share": q.get("exact_copy_share"), "gate": _gate(q) if q else "",
                     "diff": best["diff"], "diff_lo": best["diff_lo"], "diff_hi": best["diff_hi"],
                     "lift": best["lift"], "verdict": best["verdict"]})
    return pd.DataFrame(rows)


def leaderboard_markdown(board: pd.DataFrame, headline_text: str) -> str:
    if board.empty:
        return ""
    lines = ["Generator leaderboard (plot: `plots/leaderboard.png`): fidelity measured against real new frauds "
             "(detection AUC excess: how much easier the pool is to tell from the seed frauds than real new frauds "
             "are; lower is better), memorisation (DCR ratio: below 1 the pool sits closer to its seed rows than real "
             f"new frauds do), utility ({headline_text} minus real-only, for the pool's configuration that is best on "
             "validation).", "",
             "| generator | configuration | detection AUC excess | DCR ratio | exact copies | gate | recall difference "
             "(CI) | verdict |", "|---|---|---:|---:|---:|---|---|---|"]
    for _, r in board.iterrows():
        lines.append(f"| {r['generator']} | {r['config']} | {num(r['detection_auc_excess'])} | {num(r['dcr_ratio'])} | "
                     f"{percent(r['exact_copy_share'], 0)} | {r['gate']} | {signed(r['diff'])} "
                     f"({signed(r['diff_lo'])}..{signed(r['diff_hi'])}) | {r['verdict']} |")
    both = board.dropna(subset=["detection_auc_excess", "diff"])
    if len(both) >= 3:
        rho = float(pd.Series(both["detection_auc_excess"].to_numpy(dtype=float)).corr(
            pd.Series(both["diff"].to_numpy(dtype=float)), method="spearman"))
        lines += ["", f"Does fidelity predict utility here? Spearman correlation between detection AUC excess and the "
                      f"recall difference over {len(both)} pools: {num(rho, 2)} (negative: more faithful pools help "
                      f"more). With {len(both)} points this is a hint, not a finding."]
    return "\n".join(lines) + "\n"


def segment_metrics(seg: pd.DataFrame, best: str) -> dict[str, Any]:
    """DVC metrics per segment: test frauds, real-only recall, the best configuration's recall, lift and verdict."""
    out: dict[str, Any] = {}
    if seg.empty:  # no evaluate.segments
        return out
    for name, g in seg.groupby("segment_name", sort=False):
        base = g[g["kind"] == BASELINE].iloc[0]
        entry = {"n_frauds": int(base["n_frauds"]), "baseline_recall": base["recall"]}
        b = g[g["config"] == best]
        if not b.empty and best != "baseline":
            entry.update({"best_recall": b.iloc[0]["recall"], "best_lift": b.iloc[0]["lift"],
                          "best_verdict": b.iloc[0]["verdict"]})
        out[name] = entry
    return _clean(out)


def _find(table: pd.DataFrame, kind: str) -> str | None:
    hit = table.loc[table["kind"] == kind, "config"]
    return None if hit.empty else str(hit.iloc[0])


def _best_oversampler(table: pd.DataFrame) -> str | None:
    over = table[(table["kind"] == AUGMENTED) & (table["family"] == "oversampler")]
    if over.empty:
        return None
    ranked = over.sort_values(["valid_recall_mean", "valid_pr_auc_mean", "config"], ascending=[False, False, True])
    return str(ranked.iloc[0]["config"])


def _admission(row: pd.Series, valid_diff_lo: float | None, ci: float) -> tuple[bool, str]:
    """May this configuration be registered as the challenger, and why (not). A baseline may; an augmented
    configuration only when its synthetic pool passed the quality gate (no gate report: not shown to pass) AND it
    beats the real-only baseline on the validation frauds beyond noise: the lower bound of the paired bootstrap
    interval of its validation recall difference, at the Bonferroni-adjusted level `ci`, above 0."""
    if row["kind"] == BASELINE:
        return True, "the real-only baseline"
    if row["kind"] == REWEIGHT:
        return True, "a baseline (real rows, scale_pos_weight)"
    passed = row.get("quality_passed", np.nan)
    gate = passed is True or passed is np.True_
    if not gate:
        flagged = str(row.get("quality_failed_checks", "") or "").replace(" ", ", ")
        reason = (f"its pool was flagged by the quality gate ({flagged})" if flagged else
                  "its pool has no quality-gate report")
        return False, reason
    beats = valid_diff_lo is not None and np.isfinite(valid_diff_lo) and valid_diff_lo > 0
    level = f"{ci * 100:.4g}%"
    if not beats:
        return False, (f"its pool passed the gate, but it does not beat real-only on validation beyond noise "
                       f"({level} interval of the recall difference reaches {signed(valid_diff_lo)})")
    return True, (f"its pool passed the quality gate and it beats real-only on validation beyond noise "
                  f"({level} interval of the recall difference from {signed(valid_diff_lo)})")


def challenger_config(table: pd.DataFrame) -> pd.Series:
    """THE choice of the detector `publish` registers as the challenger (and `evaluate` sets serving thresholds
    for): the best admissible configuration on the VALIDATION rows (`best_config` among the rows `compare` marked
    `admissible`: a baseline, or an augmented configuration whose pool passed the gate and which beats real-only on
    validation beyond noise). The real-only baseline is always admissible, so there is always one."""
    admissible = table[table["admissible"].astype(bool)] if "admissible" in table else table
    return best_config(admissible)


def challenger_sentence(table: pd.DataFrame) -> str:
    """Why the registered challenger was registered, and why the best configuration on validation was not, when
    they differ."""
    chosen = challenger_config(table)
    s = (f"Registered as the challenger: {chosen['title']} (best on validation among the admissible "
         f"configurations; {chosen.get('admission', 'no admission recorded')}).")
    top = best_config(table)
    if top["config"] != chosen["config"]:
        s += f" The best on validation, {top['title']}, was not admissible: {top.get('admission')}."
    return s


def best_config(table: pd.DataFrame, kinds: tuple[str, ...] = (BASELINE, REWEIGHT, AUGMENTED)) -> pd.Series:
    """The configuration with the highest mean headline recall on the VALIDATION rows (then validation
    PR-AUC); ties go to the simpler configuration (baseline first). Chosen without looking at test rows,
    so its test figures are an unbiased estimate and retraining can compare it fairly."""
    cand = table[table["kind"].isin(kinds)].copy()
    order = {BASELINE: 0, REWEIGHT: 1, AUGMENTED: 2}
    cand["_o"] = cand["kind"].map(order)
    cand = cand.sort_values(["valid_recall_mean", "valid_pr_auc_mean", "_o", "share"],
                            ascending=[False, False, True, True])
    return cand.iloc[0]


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
    if not _finite(lift):
        return f"undefined (reference recall 0; difference {signed(row.get('diff'))})", diff_ci
    agrees = (_finite(lo, hi) and (verdict == VERDICT_HELPS) == (lo > 0)
              and (verdict == VERDICT_HURTS) == (hi < 0))
    return pct(lift), (f"{pct(lo)}..{pct(hi)}" if agrees else diff_ci)


def summary_sentence(table: pd.DataFrame, headline_text: str) -> str:
    base = table[table["kind"] == BASELINE].iloc[0]
    aug = table[table["kind"] == AUGMENTED]
    if aug.empty:
        return (f"No augmented configuration was trained; the real-only baseline reached {headline_text} "
                f"{base['recall']:.2f}.")
    helps = aug[aug["verdict"] == VERDICT_HELPS]
    if not helps.empty:
        b = helps.sort_values(["diff_lo", "recall"], ascending=False).iloc[0]
        lift, ci = lift_text(b)
        s = (f"On this data, {b['generator']} at {b['share'] * 100:g}% synthetic share raised {headline_text} from "
             f"{b['baseline_recall']:.2f} to {b['recall']:.2f} ({lift}, CI {ci}): helps.")
        s += _gate_note(b)
        if b["verdict_adjusted"] != VERDICT_HELPS:
            s += (f" With {len(aug)} configurations compared, this does not survive a multiple-comparison "
                  "(Bonferroni) correction: treat it as a lead to confirm, not a result.")
        return s
    b = best_config(table, (AUGMENTED,))
    n_hurt = int((aug["verdict"] == VERDICT_HURTS).sum())
    lift, ci = lift_text(b)
    s = (f"No generator beat the real-only baseline beyond noise: the best on validation, {b['generator']} at "
         f"{b['share'] * 100:g}% synthetic share, reached {headline_text} {b['recall']:.2f} against the baseline's "
         f"{b['baseline_recall']:.2f} ({lift}, CI {ci}).")
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
    words = {VERDICT_HELPS: "help" if counts[VERDICT_HELPS] > 1 else "helps",
             VERDICT_EQUIVALENT: f"equivalent to real-only (no gain or loss beyond +-{num(min_effect, 2)})",
             VERDICT_INCONCLUSIVE: "inconclusive (the CI reaches past +-" + num(min_effect, 2) + ": the data cannot "
                                                                                             "tell)",
             VERDICT_HURTS: "hurt" if counts[VERDICT_HURTS] > 1 else "hurts", VERDICT_TOO_FEW: "too few to judge"}
    parts = [f"{n} {words[v]}" for v, n in counts.items() if n]
    other = sorted(set(aug["verdict"]) - set(VERDICTS))
    parts += [f"{int((aug['verdict'] == v).sum())} {v}" for v in other]
    detectable = float(aug["detectable"].median())
    s = (f"Of {len(aug)} augmented configurations: {', '.join(parts)}. Detectable difference here (80% power): "
         f"+-{detectable:.3f} recall (median over configurations).")
    if not reference_lift:
        return s
    base = float(table.loc[table["kind"] == BASELINE, "recall"].iloc[0])
    target = min(reference_lift * base, 1.0 - base)
    case = f"a gain the size of the published case (+{reference_lift * 100:g}% relative recall"
    if target <= 0:
        return s + f" The real-only detector already catches every test fraud: {case}) is not possible here."
    capped = " (capped at recall 1)" if reference_lift * base > 1.0 - base else ""
    s += (f" {case[0].upper()}{case[1:]}: {base:.2f} -> {base + target:.2f}, {signed(target)}{capped}) "
          f"{'would' if detectable <= target else 'would not reliably'} have been detected here")
    hi = aug.sort_values("diff_hi", ascending=False).iloc[0]
    there = aug[aug["diff_lo"] >= target]
    if not there.empty:
        r = there.sort_values("diff_lo", ascending=False).iloc[0]
        return s + f"; it is there: {r['title']} reaches {signed(r['diff'])} (CI {signed(r['diff_lo'])}..)."
    if hi["diff_hi"] < target:
        return s + (f"; it is not there: no configuration's CI reaches {signed(target)} (highest upper bound "
                    f"{signed(hi['diff_hi'])}, {hi['title']}).")
    return s + (f"; the data cannot rule it out: the CI of {hi['title']} reaches {signed(hi['diff_hi'])}.")


def _gate_note(row: pd.Series) -> str:
    passed = row.get("quality_passed", np.nan)
    if isinstance(passed, (bool, np.bool_)) and not passed:
        checks = str(row.get("quality_failed_checks", "") or "").replace(" ", ", ")
        return f" Its synthetic pool was flagged by the quality gate ({checks})."
    return ""


def summary_markdown(table: pd.DataFrame, headline_text: str, profile: dict | None = None,
                     quality: dict[str, dict] | None = None, excluded: dict[str, str] | None = None,
                     ci: float = 0.95, unseen: str | None = None, min_effect: float | None = None,
                     reference_lift: float | None = None) -> str:
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
        lines += [f"Reweight baseline (real rows, `scale_pos_weight`): {headline_text} {r['recall']:.3f} "
                  f"({lift} vs real-only, CI {lift_ci}: {r['verdict']}).", ""]
    if profile:
        lines += [f"Data: {profile.get('source', '')}; {profile.get('split', '')} split; test rows "
                  f"{profile.get('test', {}).get('rows')} with {profile.get('test', {}).get('frauds')} frauds.", ""]
        lines += [leak_sentence(profile), ""] if leak_sentence(profile) else []
    fits = int(table["n_fits"].max()) if "n_fits" in table else 0
    levels = "test fraud rows, detector seeds and generator fits" if fits > 1 else "test fraud rows and seeds"
    lines += [f"Headline metric: {headline_text}, threshold chosen on the real validation rows, mean over detector "
              f"seeds{' and generator fits' if fits > 1 else ''}; CI: {ci * 100:g}% paired bootstrap over {levels}. "
              "The configuration registered as the challenger is chosen on the validation rows.", "",
              challenger_sentence(table), ""]
    if fits > 1:
        lines += [fit_seed_sentence(table), ""]
    lines += [
              f"| configuration | synthetic rows | recall | {ci * 100:g}% CI | lift vs real-only | lift CI | verdict | "
              "detectable (80% power) | Bonferroni verdict | vs reweight | PR-AUC | quality gate |",
              "|---|---:|---:|---|---:|---|---|---:|---|---|---:|---|"]
    for _, r in table.iterrows():
        q = "" if pd.isna(r.get("quality_passed", np.nan)) else (
            "pass" if r["quality_passed"] else "flagged: " + str(r.get("quality_failed_checks", "")).replace(" ", ", "))
        vr = r.get("verdict_vs_reweight", "")
        vr = "" if isinstance(vr, float) else vr
        lift, lift_ci = ("", "") if r["kind"] == BASELINE else lift_text(r)
        detectable = "" if r["kind"] == BASELINE or not _finite(r.get("detectable")) else f"+-{r['detectable']:.3f}"
        lines.append(
            f"| {r['title']} | {int(r['n_synthetic'])} | {r['recall']:.3f} | "
            f"{r['recall_lo']:.3f}..{r['recall_hi']:.3f} | "
            f"{lift} | {lift_ci} | {r['verdict']} | {detectable} | {r['verdict_adjusted']} | {vr} | "
            f"{r['pr_auc_mean']:.3f} | {q} |")
    if quality:
        lines += ["", gate_markdown(quality)]
    if excluded:
        lines += ["", "Left out of training: "
                  + "; ".join(f"{g} ({why})" for g, why in excluded.items())]
    return "\n".join(lines) + "\n"


def leak_sentence(profile: dict) -> str:
    """The likely-leak warning `prepare` recorded in profile.json (input_contract.likely_leaks), or ""."""
    leaks = (profile.get("input_contract") or {}).get("likely_leaks") or []
    if not leaks:
        return ""
    named = ", ".join(f"`{d['column']}` (AUC {d['auc']:.3f})" for d in leaks)
    return (f"**Likely leak:** {named} on its own separates fraud from legitimate training rows almost perfectly; "
            "such a column is usually a label proxy (a chargeback flag) known only after the fact, and every recall "
            "figure here may be inflated by it. Drop it (data.drop_columns) unless it is known when a transaction is "
            "scored.")


def fit_seed_sentence(table: pd.DataFrame) -> str:
    """How much of the difference CIs' width comes from generator randomness (several fit seeds)."""
    aug = table[(table["kind"] == AUGMENTED) & (table["n_fits"] > 1)].dropna(subset=["diff_ci_width"])
    if aug.empty:
        return ""
    w, w0 = aug["diff_ci_width"].to_numpy(), aug["diff_ci_width_without_fits"].to_numpy()
    # the share of the width the fits add (0 when drawing them happens to give a narrower interval: bootstrap noise)
    share = np.clip(np.where(w > 0, 1.0 - w0 / np.where(w > 0, w, 1.0), 0.0), 0.0, 1.0)
    top = aug.iloc[int(np.argmax(share))]
    return (f"Generator randomness: each generator was fitted {int(aug['n_fits'].max())} times (augment.fit_seeds) and "
            f"the bootstrap draws the fits too. The CI of the recall difference is a median {np.median(w):.3f} wide "
            f"with the fits drawn and {np.median(w0):.3f} with them averaged: for the median configuration "
            f"{np.median(share) * 100:.0f}% of the width comes from which fit was drawn, for "
            f"{int((share >= 0.25).sum())} of {len(aug)} configurations a quarter or more (most for {top['title']}: "
            f"{top['diff_ci_width_without_fits']:.3f} -> {top['diff_ci_width']:.3f}, {share.max() * 100:.0f}%). "
            "With one fit seed this part of the uncertainty would go unseen." + _verdict_changes(aug))


def _verdict_changes(aug: pd.DataFrame) -> str:
    """Which verdicts generator randomness changes (the verdict with the fits averaged instead of drawn)."""
    if "verdict_without_fits" not in aug:
        return ""
    changed = aug[aug["verdict_without_fits"].notna() & (aug["verdict_without_fits"] != aug["verdict"])]
    if changed.empty:
        return " No verdict changes when the fits are averaged instead of drawn."
    return (f" {len(changed)} verdict{'s' if len(changed) > 1 else ''} would differ with one fit's randomness left "
            "out: " + ", ".join(f"{r['title']} {r['verdict']} (averaged: {r['verdict_without_fits']})"
                                for _, r in changed.iterrows()) + ".")


def gate_markdown(quality: dict[str, dict]) -> str:
    """The quality and privacy gate in plain words: what it measures, the real-new-frauds reference, each pool
    against it, and the table."""
    first = next((q for q in quality.values() if not q.get("failed")), None)
    if first is None:
        return "Quality and privacy gate: no pool was made.\n"
    limit = {k: (c or {}).get("threshold") for k, c in (first.get("checks") or {}).items()}
    ref_auc, ref_q = first.get("detection_auc_real_reference"), first.get("quality_score_real_reference")
    lines = ["Quality and privacy gate per synthetic pool. It compares each pool with **real new frauds**: the "
             "validation split's frauds, which no generator saw, measured against the seed set in the same way. "
             + (f"A classifier tells those real new frauds from the seed frauds with AUC {num(ref_auc)} (0.5 = "
                f"indistinguishable; fraud drifts between periods), and their SDMetrics quality score against the "
                f"seed set is {num(ref_q)}. " if ref_auc is not None else
                "There are too few real held-out frauds for that reference here, so only the absolute checks run. ")
             + "A pool is flagged when it is easier to tell from the seed frauds than real new frauds are by more "
             f"than {num(limit.get('detection_auc_excess'), 2)} AUC beyond the noise (the lower bound of the 90% "
             "bootstrap interval of that excess above it; a reference below chance counts as 0.5), when its quality "
             "score is more than "
             f"{num(limit.get('quality_score_drop'), 2)} below theirs (or below {num(limit.get('quality_score'), 2)}), "
             f"when more than {percent(limit.get('exact_copy_share'), 0)} of its rows copy a seed row, or when it "
             f"sits much closer to its seed rows than real new frauds do (DCR ratio below "
             f"{num(limit.get('dcr_ratio'), 2)}: memorising). A flagged pool is still trained on unless "
             "quality.exclude_failed; the retrain guardrail does not promote it unless retrain.allow_flagged_pool.", ""]
    for g, q in quality.items():
        if q.get("failed"):
            lines.append(f"- {g}: no pool ({q['failed']}).")
            continue
        excess = q.get("detection_auc_excess")
        told = (f"told apart with AUC {num(q.get('detection_auc'))}"
                + (f", {signed(excess, 3)} vs real new frauds (90% interval "
                   f"{signed(q.get('detection_auc_excess_lo'), 3)}..{signed(q.get('detection_auc_excess_hi'), 3)})"
                   if excess is not None else ""))
        lines.append(f"- {g}: {told}; quality {num(q.get('quality_score'))}; DCR ratio {num(q.get('dcr_ratio'))}; "
                     f"exact copies {percent(q.get('exact_copy_share'), 0)}: **{_gate(q)}**.")
    lines += ["", "| generator | quality score | drop vs real new frauds | exact copies | DCR ratio (pool/holdout) | "
              "detection AUC | excess vs real new frauds | gate |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for g, q in quality.items():
        lines.append(f"| {g} | {num(q.get('quality_score'))} | {num(q.get('quality_score_drop'))} | "
                     f"{num(q.get('exact_copy_share'))} | {num(q.get('dcr_ratio'))} | {num(q.get('detection_auc'))} | "
                     f"{num(q.get('detection_auc_excess'))} | {_gate(q)} |")
    return "\n".join(lines)


def _gate(q: dict) -> str:
    if q.get("failed"):
        return "no pool: could not be sampled"
    failed = failed_checks(q)
    if failed:
        return "flagged: " + ", ".join(failed)
    status = gate_status(q)
    return "pass" if status == "passed" else status


def metrics_dict(table: pd.DataFrame) -> dict[str, Any]:
    """DVC metrics: numbers keyed so `dvc metrics diff` reads naturally."""
    headline = table["headline_metric"].iloc[0]
    base = table[table["kind"] == BASELINE].iloc[0]
    out: dict[str, Any] = {"headline_metric": headline, "test": {}}
    out["test"]["baseline"] = {"recall": base["recall"], "recall_lo": base["recall_lo"],
                               "recall_hi": base["recall_hi"], "pr_auc": base["pr_auc_mean"]}
    rew = table[table["kind"] == REWEIGHT]
    if not rew.empty:
        r = rew.iloc[0]
        out["test"]["reweight"] = {"recall": r["recall"], "lift": r["lift"], "lift_lo": r["lift_lo"],
                                   "lift_hi": r["lift_hi"], "pr_auc": r["pr_auc_mean"]}
    aug = table[table["kind"] == AUGMENTED]
    if not aug.empty:
        b = best_config(table, (AUGMENTED,))
        out["test"]["best_augmented"] = {
            "config": b["config"], "recall": b["recall"], "recall_lo": b["recall_lo"], "recall_hi": b["recall_hi"],
            "lift": b["lift"], "lift_lo": b["lift_lo"], "lift_hi": b["lift_hi"], "verdict": b["verdict"],
            "pr_auc": b["pr_auc_mean"]}
        out["verdicts"] = verdict_counts(aug["verdict"])
        out["test"]["detectable_effect"] = float(aug["detectable"].median())
    best = challenger_config(table)  # what publish registers
    out["best_config"] = best["config"]
    out["best_on_validation"] = best_config(table)["config"]
    out["test"]["best"] = {"recall": best["recall"], "lift": 0.0 if best["kind"] == BASELINE else best["lift"]}
    return _clean(out)


def _clean(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (float, np.floating)):
        return None if not np.isfinite(o) else round(float(o), 6)
    if isinstance(o, np.integer):
        return int(o)
    return o
