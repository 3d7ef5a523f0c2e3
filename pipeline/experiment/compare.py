"""The comparison: every configuration against the real-only baseline, the reweight baseline
and the best oversampler, with paired bootstrap CIs and a verdict.

Input: per detector (config, seed) its validation and test scores. Output: one row per
configuration (`comparison.csv`), the per-segment, targeting and leaderboard tables, and the DVC metrics
dict. The choice on validation rows (best configuration, admission, the challenger) is
`pipeline.experiment.challenger`; the summary in words is `pipeline.reporting.markdown`.
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

from pipeline.experiment.challenger import admission, best_config, challenger_config
from pipeline.experiment.grid import AUGMENTED, BASELINE, REWEIGHT
from pipeline.experiment.metrics import (
    PAIRED_COLUMNS,
    VERDICT_TOO_FEW,
    LabelledScores,
    ScoreSummary,
    as_scores,
    average_precision,
    frauds_needed,
    metric_names,
    paired_with,
    pct_label,
    recall_of,
    seed_mean_std,
    split_metrics,
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
    valid: np.ndarray | ScoreSummary  # every validation row's score, or their summary (out-of-core evaluate)
    test: np.ndarray | ScoreSummary
    fit_seed: int | None = None  # the generator's fit seed (None: the baselines, which have no generator)
    model: str = ""  # the detector file, relative to models/detectors

    def splits(self, y_valid, y_test) -> tuple[LabelledScores | ScoreSummary, LabelledScores | ScoreSummary]:
        """(validation, test) scores as the metrics read them (`metrics.as_scores`); the labels are not needed
        (None) for scores that are summaries."""
        return as_scores(y_valid, self.valid), as_scores(y_test, self.test)


def _order(d: DetectorScores) -> tuple[int, int]:
    """Detectors of a configuration in (fit seed, detector seed) order."""
    return (-1 if d.fit_seed is None else d.fit_seed, d.seed)


def headline_name(eval_params: dict[str, Any]) -> str:
    return f"recall_at_fpr_{pct_label(eval_params['fpr_budgets'][0])}"


def compare(
    detectors: list[DetectorScores],
    y_valid: np.ndarray | None,
    y_test: np.ndarray | None,
    eval_params: dict[str, Any],
    quality: dict[str, dict] | None = None,
    hits: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
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
        split = [d.splits(y_valid, y_test) for d in ds]
        per_seed = [split_metrics(v, t, ev["fpr_budgets"], ev["precision_floors"], ev["top_k"]) for v, t in split]
        # selection metrics on the VALIDATION rows: the best config is chosen here, never on test
        valid_recall = [recall_of(v, m[thr_name]) for (v, _), m in zip(split, per_seed)]
        valid_ap = [average_precision(v) for v, _ in split]
        first = ds[0]
        row: dict[str, Any] = {
            "config": cid,
            "title": first.title,
            "kind": first.kind,
            "generator": first.generator,
            "family": first.family,
            "share": first.share,
            "n_seeds": len({d.seed for d in ds}),
            "seeds": " ".join(str(d.seed) for d in ds),
            "n_fits": len(fits),
            "fit_seeds": " ".join(str(f) for f in fits),
            "n_real_fraud": first.n_real_fraud,
            "n_synthetic": first.n_synthetic,
            "valid_recall_mean": float(np.mean(valid_recall)),
            "valid_pr_auc_mean": float(np.mean(valid_ap)),
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
    base = _baseline(table)
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
    for i, (_, conf) in enumerate(table.iterrows()):
        cid = conf["config"]
        b = paired(cid, base, ev["ci"])
        if conf["kind"] == AUGMENTED:  # beyond noise on VALIDATION, Bonferroni over the augmented configurations
            v = paired_with(valid_hits[cid], valid_hits[base], ev, adj_ci)
            put(i, "valid_diff", v["diff"])
            put(i, "valid_diff_lo", v["diff_lo"])
            put(i, "valid_diff_hi", v["diff_hi"])
            put(i, "valid_verdict_adjusted", v["verdict"])
        admissible, why = admission(conf, v["diff_lo"] if conf["kind"] == AUGMENTED else None, adj_ci)
        put(i, "admissible", admissible)
        put(i, "admission", why)
        if multi_fit and conf["n_fits"] > 1:
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
        if conf["kind"] == BASELINE:
            put(i, "verdict", "reference")
            put(i, "verdict_adjusted", "reference")
        else:
            put(i, "verdict", b["verdict"])
            adj = paired(cid, base, adj_ci) if conf["kind"] == AUGMENTED else b
            put(i, "verdict_adjusted", adj["verdict"])
        if rew is not None and conf["kind"] == AUGMENTED:
            r = paired(cid, rew, ev["ci"])
            put(i, "lift_vs_reweight", r["lift"])
            put(i, "lift_vs_reweight_lo", r["lift_lo"])
            put(i, "lift_vs_reweight_hi", r["lift_hi"])
            put(i, "verdict_vs_reweight", r["verdict"])
        if best_over is not None and conf["kind"] == AUGMENTED and conf["family"] != "oversampler":
            o = paired(cid, best_over, ev["ci"])
            put(i, "best_oversampler", best_over)
            put(i, "lift_vs_best_oversampler", o["lift"])
            put(i, "lift_vs_best_oversampler_lo", o["lift_lo"])
            put(i, "lift_vs_best_oversampler_hi", o["lift_hi"])
            put(i, "verdict_vs_best_oversampler", o["verdict"])
    for k, values in out_cols.items():
        table[k] = values
    table.insert(0, "headline_metric", headline)
    order = {BASELINE: 0, REWEIGHT: 1, AUGMENTED: 2}
    table = table.sort_values(
        by=["kind", "generator", "share"], key=lambda s: s.map(order) if s.name == "kind" else s, na_position="first"
    ).reset_index(drop=True)
    return table


def headline_hits(
    detectors: list[DetectorScores],
    y_valid: np.ndarray | None,
    y_test: np.ndarray | None,
    budget: float,
    on: str = "test",
) -> dict[str, np.ndarray]:
    """{config: (n_seeds, n_test_frauds) bool, or (n_fits, n_seeds, n_test_frauds) for a generator fitted with
    several fit seeds}: which test frauds each detector alerts at the headline budget (threshold from the
    validation legit rows), fits and seeds in ascending order. `on="valid"`: the same for the validation frauds
    (`y_test` is then ignored), for choices made without the test rows."""
    if on not in ("test", "valid"):
        raise ValueError(f"on must be 'test' or 'valid', got {on!r}")

    def alerted(d: DetectorScores) -> np.ndarray:
        valid = as_scores(y_valid, d.valid)
        rows = as_scores(y_test, d.test) if on == "test" else valid
        return rows.fraud >= valid.threshold(budget)

    by_config: dict[str, dict[int | None, list[DetectorScores]]] = {}
    for d in detectors:
        by_config.setdefault(d.config, {}).setdefault(d.fit_seed, []).append(d)
    out = {}
    for cid, by_fit in by_config.items():
        per_fit = [
            np.vstack([alerted(d) for d in sorted(ds, key=lambda d: d.seed)])
            for _, ds in sorted(by_fit.items(), key=lambda kv: -1 if kv[0] is None else kv[0])
        ]
        if len({h.shape for h in per_fit}) > 1:
            raise ValueError(f"{cid}: its generator fits were trained with different detector seeds; cannot pair them")
        out[cid] = per_fit[0] if len(per_fit) == 1 else np.stack(per_fit)
    return out


def segment_table(
    table: pd.DataFrame, hits: dict[str, np.ndarray], y_test: np.ndarray, segments: list, eval_params: dict[str, Any]
) -> pd.DataFrame:
    """One row per (configuration, segment): recall on the segment's test frauds, the paired bootstrap CI of the
    difference and lift vs the real-only baseline, and a verdict ("too few to judge" below min_segment_frauds)."""
    ev = eval_params
    fraud = np.asarray(y_test) == 1
    base = _baseline(table)
    rows = []
    for seg in segments:
        m = np.asarray(seg.mask)[fraud]
        n = int(m.sum())
        for _, r in table.iterrows():
            row = {
                "config": r["config"],
                "title": r["title"],
                "kind": r["kind"],
                "generator": r["generator"],
                "share": r["share"],
                "segment_column": seg.column,
                "segment": seg.value,
                "segment_name": seg.name,
                "n_frauds": n,
            }
            if n == 0:
                continue
            b = paired_with(hits[r["config"]][..., m], hits[base][..., m], ev)
            row.update({k: b[k] for k in (*PAIRED_COLUMNS, "detectable")})
            row["baseline_recall"] = b["ref_recall"]
            row["verdict"] = (
                "reference"
                if r["kind"] == BASELINE
                else VERDICT_TOO_FEW
                if n < ev["min_segment_frauds"]
                else b["verdict"]
            )
            if r["kind"] != BASELINE:
                row["frauds_needed"] = frauds_needed(n, b["detectable"], ev.get("min_effect"))
            rows.append(row)
    return pd.DataFrame(rows)


def targeting_table(
    table: pd.DataFrame, hits: dict[str, np.ndarray], y_test: np.ndarray, segments: list, eval_params: dict[str, Any]
) -> pd.DataFrame:
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
            rows.append(
                {
                    "config": cid,
                    "untargeted": twin,
                    "segment_name": seg.name,
                    "n_frauds": n,
                    "recall": b["recall"],
                    "untargeted_recall": b["ref_recall"],
                    "diff": b["diff"],
                    "diff_lo": b["diff_lo"],
                    "diff_hi": b["diff_hi"],
                    "verdict": VERDICT_TOO_FEW if n < ev["min_segment_frauds"] else b["verdict"],
                }
            )
    return pd.DataFrame(rows)


def leaderboard(table: pd.DataFrame, quality: dict[str, dict]) -> pd.DataFrame:
    """One row per pool (generator, or targeted pool): fidelity (calibrated: detection AUC excess and quality drop
    vs real new frauds), memorisation (DCR ratio, exact copies), and utility - the recall difference vs real-only,
    with its CI, of the pool's configuration that is best on the VALIDATION rows (chosen without the test rows,
    like the challenger)."""
    rows = []
    aug = table[table["kind"] == AUGMENTED]
    for gen, g in aug.groupby("generator", sort=False):
        best = best_config(g, (AUGMENTED,))
        q = quality.get(str(gen), {})
        rows.append(
            {
                "generator": gen,
                "family": best.get("family"),
                "config": best["config"],
                "detection_auc_excess": q.get("detection_auc_excess"),
                "quality_score_drop": q.get("quality_score_drop"),
                "dcr_ratio": q.get("dcr_ratio"),
                "exact_copy_share": q.get("exact_copy_share"),
                "gate": gate_label(q) if q else "",
                "diff": best["diff"],
                "diff_lo": best["diff_lo"],
                "diff_hi": best["diff_hi"],
                "lift": best["lift"],
                "verdict": best["verdict"],
            }
        )
    return pd.DataFrame(rows)


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
            entry.update(
                {
                    "best_recall": b.iloc[0]["recall"],
                    "best_lift": b.iloc[0]["lift"],
                    "best_verdict": b.iloc[0]["verdict"],
                }
            )
        out[str(name)] = entry
    return _clean(out)


def _baseline(table: pd.DataFrame) -> str:
    base = _find(table, BASELINE)
    if base is None:  # the grid always holds it (`experiment.grid.build_grid`)
        raise ValueError("no real-only baseline among the detectors: every comparison is made against it")
    return base


def _find(table: pd.DataFrame, kind: str) -> str | None:
    hit = table.loc[table["kind"] == kind, "config"]
    return None if hit.empty else str(hit.iloc[0])


def _best_oversampler(table: pd.DataFrame) -> str | None:
    over = table[(table["kind"] == AUGMENTED) & (table["family"] == "oversampler")]
    if over.empty:
        return None
    ranked = over.sort_values(["valid_recall_mean", "valid_pr_auc_mean", "config"], ascending=[False, False, True])
    return str(ranked.iloc[0]["config"])


def gate_label(q: dict) -> str:
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
    out["test"]["baseline"] = {
        "recall": base["recall"],
        "recall_lo": base["recall_lo"],
        "recall_hi": base["recall_hi"],
        "pr_auc": base["pr_auc_mean"],
    }
    rew = table[table["kind"] == REWEIGHT]
    if not rew.empty:
        r = rew.iloc[0]
        out["test"]["reweight"] = {
            "recall": r["recall"],
            "lift": r["lift"],
            "lift_lo": r["lift_lo"],
            "lift_hi": r["lift_hi"],
            "pr_auc": r["pr_auc_mean"],
        }
    aug = table[table["kind"] == AUGMENTED]
    if not aug.empty:
        b = best_config(table, (AUGMENTED,))
        out["test"]["best_augmented"] = {
            "config": b["config"],
            "recall": b["recall"],
            "recall_lo": b["recall_lo"],
            "recall_hi": b["recall_hi"],
            "lift": b["lift"],
            "lift_lo": b["lift_lo"],
            "lift_hi": b["lift_hi"],
            "verdict": b["verdict"],
            "pr_auc": b["pr_auc_mean"],
        }
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
