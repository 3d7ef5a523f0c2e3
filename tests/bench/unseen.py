"""Which generator settings matter for the unseen-variant test (`pipeline.experiment.unseen`)? Measured on two tables.

Each variant's frauds leave training and validation in turn; `run_cells` / `unseen_table` (as the `unseen` stage)
compare augmented with real-only recall on its test frauds, for settings FIXED UP FRONT: the share, and how far
samples spread beyond the seed rows (copula marginals, SMOTE neighbours, CTGAN steps; `--quick` skips CTGAN). Spread
is measured with the quality gate's DCR on a pool from each cell's own fitted generator (the cell cache's pickle).
One cell cache per table under tests/bench/results/tmp/ (gitignored): identical cells run once. About 13 min on 2
cores -> tests/bench/results/unseen.{json,md}; `--from-json` rewrites the .md only; `--keep` keeps the caches.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.config.params import load_params  # noqa: E402
from pipeline.core.cache import ResultCache  # noqa: E402
from pipeline.core.paths import Paths  # noqa: E402
from pipeline.core.schema import Schema  # noqa: E402
from pipeline.data.segments import value_labels  # noqa: E402
from pipeline.experiment.blend import pool_seed  # noqa: E402
from pipeline.experiment.cells import fit_generator  # noqa: E402
from pipeline.experiment.unseen import FAILED, REAL_ONLY, TOO_FEW, Setup, run_cells, unseen_table, without_variant  # noqa: E402
from pipeline.generators.registry import split_type  # noqa: E402
from pipeline.quality.gate import _dcr, _encode_for_distance  # noqa: E402
from tests.bench.benchlib import loadavg, versions  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results"
ORACLE = ROOT.parent / "shared" / "data" / "fraud_oracle.csv"
DATASETS = {
    "built-in simulator": ({"unseen.column": "fraud_scenario"}, True),
    "fraud_oracle.csv": (
        {
            "data.source": "csv",
            "data.path": str(ORACLE),
            "data.label": "FraudFound_P",
            "data.time_column": None,
            "data.id_columns": ["PolicyNumber", "RepNumber"],
            "data.meta_columns": [],
            "evaluate.segments": [],
            "evaluate.fpr_budgets": [0.05, 0.01],
            "serve.review_budget": 0.1,
            "unseen.column": "BasePolicy",
        },
        False,
    ),
}
SEEDS, FIT_SEEDS = [0, 1], [0]


def settings(gens: dict, ctgan: bool) -> list[tuple[str, str, dict, list[float]]]:
    """(knob, label, {name: (type, hp)}, shares); the shipped hyperparameters otherwise."""
    cop, smo = split_type("gaussian_copula", gens["gaussian_copula"]), split_type("smote", gens["smote"])
    out = [("share", "copula + SMOTE", {"gaussian_copula": cop, "smote": smo}, [0.25, 0.5, 0.75])]
    out += [
        (
            "copula marginals",
            f"default_distribution={d}",
            {"gaussian_copula": ("gaussian_copula", {**cop[1], "default_distribution": d})},
            [0.5],
        )
        for d in ("beta", "norm", "truncnorm", "uniform")
    ]
    out += [
        ("SMOTE neighbours", f"k_neighbors={k}", {"smote": ("smote", {**smo[1], "k_neighbors": k})}, [0.5])
        for k in (2, 5, 15)
    ]
    if ctgan:
        ct = split_type("ctgan", gens["ctgan"])
        out += [
            ("CTGAN steps", f"steps={s}", {"ctgan": ("ctgan", {**ct[1], "steps": s, "verbose": False})}, [0.5])
            for s in (300, 1500)
        ]
    return out


def spread(cache: ResultCache, setup: Setup, gen_type: str, hp: dict, variant: str, train, valid, schema) -> dict:
    """DCR ratio, reach and (feature column) pool_has_value of the cell's generator fitted without `variant`."""
    label, entry = schema.label, setup.entry
    sub, _ = without_variant(train, entry, label, variant)
    valid_v, _ = without_variant(valid, entry, label, variant)
    key = cache.key(what="generator", variant=variant, column_spec=entry, type=gen_type, hp=hp, fit_seed=FIT_SEEDS[0])
    gen, reused = cache.get_object(key), True
    if gen is None:  # not in the cache (e.g. the cell failed): fit it here
        gen, reused = fit_generator(gen_type, hp, sub, schema=schema, seed=FIT_SEEDS[0]), False
    seed = schema.seed_set(sub)
    pool = schema.conform(gen.sample(len(seed), seed=pool_seed(setup.sample_seed, FIT_SEEDS[0])))
    is_v = (train[label].to_numpy() == 1) & (value_labels(train, entry) == variant).to_numpy()
    held = schema.conform(train.loc[is_v]).reset_index(drop=True)
    _, ratio = _dcr(seed, pool, schema.seed_set(valid_v), schema)
    from sklearn.neighbors import NearestNeighbors

    seed_x, pool_x, held_x = _encode_for_distance(seed, [pool.reset_index(drop=True), held], schema)
    to_pool = NearestNeighbors(n_neighbors=1).fit(pool_x).kneighbors(held_x)[0][:, 0]
    to_seed = NearestNeighbors(n_neighbors=1).fit(seed_x).kneighbors(held_x)[0][:, 0]
    reach = float(np.median(to_pool) / np.median(to_seed)) if len(held_x) and np.median(to_seed) > 0 else np.nan
    column = entry if isinstance(entry, str) else entry["column"]
    has = float((value_labels(pool, entry) == variant).mean()) if column in pool.columns else None  # a feature
    return {"variant": variant, "dcr_ratio": ratio, "reach": reach, "pool_has_value": has, "from_cache": reused}


def run_dataset(name: str, overrides: dict, ctgan: bool, tmp: Path) -> dict:
    from pipeline.stages import prepare

    root = Path(tempfile.mkdtemp(prefix="unseen-", dir=tmp))
    (root / "data" / "raw").mkdir(parents=True)
    params = load_params(ROOT / "params.yaml", {"compute.scheduler": "sequential", **overrides})
    paths = Paths.at(root)
    profile = prepare.run(params, paths)
    schema = Schema.load(paths.schema)
    train, valid, test = (pd.read_parquet(paths.split(s)) for s in ("train", "valid", "test"))
    cache = ResultCache(root / "cache", "bench")  # one table, one cache: the data never changes within a run
    out = {
        "dataset": name,
        "column": params["unseen"]["column"],
        "budget": params["evaluate"]["fpr_budgets"][0],
        "splits": {s: {k: profile[s][k] for k in ("rows", "frauds")} for s in ("train", "valid", "test")},
        "settings": [],
    }
    for knob, label, gens, shares in settings(params["generators"], ctgan):
        setup = Setup(
            entry=params["unseen"]["column"],
            generators=gens,
            shares=shares,
            fit_seeds=FIT_SEEDS,
            seeds=SEEDS,
            detector=dict(params["detector"]),
            budget=out["budget"],
            sample_seed=params["augment"]["sample_seed"],
        )
        t0 = time.perf_counter()
        result = run_cells(train, valid, test, schema, setup, cache, log=lambda m: print(f"  {m}", flush=True))
        table = unseen_table(result, params["evaluate"])
        spreads = {
            g: [spread(cache, setup, gt, hp, v, train, valid, schema) for v in result["variants"]]
            for g, (gt, hp) in gens.items()
        }
        out["settings"].append(
            {
                "knob": knob,
                "label": label,
                "generators": {g: [t, h] for g, (t, h) in gens.items()},
                "shares": shares,
                "computed": result["computed"],
                "reused": result["reused"],
                "wall_s": round(time.perf_counter() - t0, 1),
                "spread": spreads,
                "table": json.loads(table.to_json(orient="records")),
            }
        )
        print(
            f"{name} | {knob} {label}: {out['settings'][-1]['wall_s']} s, {result['computed']} cells computed",
            flush=True,
        )
    return out


def rows(ds: dict) -> list[dict]:
    """One summary row per (setting, configuration)."""
    out = []
    for st in ds["settings"]:
        t = pd.DataFrame(st["table"])
        for config, g in t[t["config"] != REAL_ONLY].groupby("config", sort=False):
            judged = g[~g["verdict"].isin([FAILED, TOO_FEW])]
            gen = g["generator"].iloc[0]
            sp = pd.DataFrame(st["spread"][gen])
            best = judged.loc[judged["diff"].idxmax()] if not judged.empty else None
            out.append(
                {
                    "knob": st["knob"],
                    "setting": st["label"] if st["knob"] != "share" else "shipped",
                    "config": config,
                    "same_as": json.dumps([config, st["generators"][gen]]),
                    "judged": len(judged),
                    "failed": int((g["verdict"] == FAILED).sum()),
                    "mean_diff": judged["diff"].mean(),
                    "helps": int((judged["verdict"] == "helps").sum()),
                    "hurts": int((judged["verdict"] == "hurts").sum()),
                    "best": (
                        f"{best['diff']:+.3f} ({best['diff_lo']:+.3f}..{best['diff_hi']:+.3f}) {best['variant']}"
                        if best is not None
                        else ""
                    ),
                    "known_diff": judged["known_diff"].mean(),
                    "dcr_ratio": sp["dcr_ratio"].mean(),
                    "reach": sp["reach"].mean(),
                    "wall_s": st["wall_s"],
                    "computed": st["computed"],
                }
            )
    return out


def reading(ds: dict, summary: pd.DataFrame) -> str:
    """Sentences made from the numbers only (a configuration measured under two knobs counts once)."""
    ident = lambda st, gen: json.dumps([gen, st["generators"].get(gen)])  # noqa: E731
    t = pd.concat([pd.DataFrame(st["table"]).assign(knob=st["knob"]) for st in ds["settings"]])
    t["same"] = [ident(st, r["generator"]) for st in ds["settings"] for r in st["table"]]
    base = t[(t["config"] == REAL_ONLY) & (t["knob"] == "share") & (t["verdict"] != FAILED)]
    caught = ", ".join(f"{r.variant} {r.baseline_recall:.2f} (seen {r.seen_recall:.2f})" for r in base.itertuples())
    s = [f"Never trained on it, the real-only detector catches {caught} of each variant's test frauds."]
    aug = t[(t["config"] != REAL_ONLY) & ~t["verdict"].isin([FAILED, TOO_FEW])]
    aug = aug.drop_duplicates(["same", "config", "variant"])  # the shipped settings appear under two knobs
    helps = aug[aug["verdict"] == "helps"]
    by = ", ".join(f"{v}: {n}" for v, n in helps["variant"].value_counts().items())
    s.append(
        f"Over {len(aug.drop_duplicates(['same', 'config']))} distinct configurations ({len(aug)} judged "
        f"configuration x variant cells): {len(helps)} helps (by variant {by or 'none'}; "
        f"{int((helps['verdict_adjusted'] == 'helps').sum())} also after Bonferroni), "
        f"{int((aug['verdict'] == 'hurts').sum())} hurts."
    )
    zero = aug[(aug["recall"] == 0) & (aug["baseline_recall"] == 0)]
    if len(zero):
        s.append(
            f"In {len(zero)} of these cells neither detector catches any of the unseen variant "
            f"({', '.join(map(str, zero['variant'].unique()))})."
        )
    sp = pd.DataFrame(
        [
            {**x, "same": ident(st, g), "name": f"{g} {st['label'] if st['knob'] != 'share' else ''}"}
            for st in ds["settings"]
            for g, v in st["spread"].items()
            for x in v
        ]
    )
    sp = sp.drop_duplicates(["same", "variant"])
    if sp.get("pool_has_value") is not None and sp["pool_has_value"].notna().all():
        most = sp["pool_has_value"].max()
        s.append(
            f"`{ds['column']}` is a feature: no seed fraud holds the held-out value and "
            + ("no pool row carries it" if most == 0 else f"at most {most:.3f} of a pool's rows carry it")
            + ", so the detectors see that value only on legitimate rows."
        )
    ranges = summary.groupby("knob", sort=False)["mean_diff"].agg(["min", "max"])
    s.append(
        "Mean difference by knob: "
        + "; ".join(f"{k} {r['min']:+.3f}..{r['max']:+.3f}" for k, r in ranges.iterrows())
        + f"; known-variant difference "
        f"{summary['known_diff'].min():+.3f}..{summary['known_diff'].max():+.3f} throughout."
    )
    for knob, g in summary[summary["knob"] != "share"].groupby("knob", sort=False):
        far, best = g.loc[g["dcr_ratio"].idxmax()], g.loc[g["mean_diff"].idxmax()]
        if len(g) > 2 and far["setting"] != best["setting"] and g["mean_diff"].nunique() > 1:
            s.append(
                f"{knob}: the most spread pool ({far['setting']}, DCR ratio {far['dcr_ratio']:.2f}) has mean "
                f"difference {far['mean_diff']:+.3f}; the largest ({best['setting']}, {best['mean_diff']:+.3f}) "
                f"comes with DCR ratio {best['dcr_ratio']:.2f}."
            )
    near = sp[sp["reach"] < 1]
    s.append(
        f"Reach per (generator setting, variant) is {sp['reach'].min():.3f}..{sp['reach'].max():.2f}; "
        + (
            f"below 1 for {len(near)} of {len(sp)} ("
            + ", ".join(f"{r.name.strip()}, variant {r.variant}: {r.reach:.3f}" for r in near.itertuples())
            + ")."
            if len(near)
            else "never below 1: no pool lies nearer a held-out variant's frauds than the seed rows."
        )
    )
    s.append(f"One generator fit per cell: the CIs cover test frauds and detector seeds {SEEDS}, not fit randomness.")
    return " ".join(s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the CTGAN settings")
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects and caches")
    ap.add_argument("--from-json", action="store_true", help="rewrite unseen.md from unseen.json; no measuring")
    args = ap.parse_args()
    if args.from_json:
        saved = json.loads((RESULTS / "unseen.json").read_text())
        return write_md(saved["meta"], saved["datasets"])
    (RESULTS / "tmp").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-unseen-", dir=RESULTS / "tmp"))
    t0, load_start, found = time.perf_counter(), loadavg(), []
    for name, (overrides, ctgan) in DATASETS.items():
        if name == "fraud_oracle.csv" and not ORACLE.exists():
            print(f"{ORACLE} not found: skipping fraud_oracle.csv")
            continue
        found.append(run_dataset(name, overrides, ctgan and not args.quick, work))
    meta = {
        "date": date.today().isoformat(),
        "total_s": round(time.perf_counter() - t0, 1),
        "load_start": load_start,
        "load_end": loadavg(),
        "seeds": SEEDS,
        "fit_seeds": FIT_SEEDS,
        "quick": args.quick,
        "versions": versions(("sdv", "ctgan", "imbalanced-learn", "xgboost-cpu", "torch")),
    }
    (RESULTS / "unseen.json").write_text(json.dumps({"meta": meta, "datasets": found}, indent=1, default=str))
    write_md(meta, found)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def write_md(meta: dict, found: list[dict]) -> None:
    lines = [
        "# Which generator settings matter for the unseen-variant test?",
        "",
        f"Measured {meta['date']} with `tests/bench/unseen.py` on this machine (2 cores; load average "
        f"{meta['load_start']} -> {meta['load_end']}); total {meta['total_s'] / 60:.1f} min. Detector seeds "
        f"{SEEDS}, generator fit seeds {FIT_SEEDS}, the shipped detector; cells, CIs and verdicts exactly as "
        "`pipeline.experiment.unseen`. Times are on a machine shared with other jobs (see the load average).",
        "",
        "Every setting was fixed up front in the script (the grid below, shipped values otherwise); no "
        "choice is made on test frauds, and none on validation frauds either: this measures, it does not tune.",
        "",
        "Columns: **mean diff** - recall on the held-out variant's test frauds, augmented minus real-only, "
        "averaged over the judged variants (failed and 'too few to judge' variants left out); **helps / hurts** "
        "- verdicts among them (95% paired bootstrap confirmed by a sign test, uncorrected); **largest diff** - "
        "the largest per-variant difference, its CI and variant; **known diff** - the same difference on the "
        "other, known variants' test frauds (mean over variants); **DCR ratio** - median distance of pool rows "
        "to their closest seed row / that of the known variants' real validation frauds (the gate's DCR; higher "
        "= spreads further from the seed rows); **reach** - median distance of the held-out variant's training "
        "frauds to the closest pool row / to the closest seed row (below 1: the pool lies nearer the unseen "
        "variant than the seeds); both for a pool as large as the seed set, averaged over variants; **s** - wall "
        "time of the setting's whole run (for share: all six configurations together; cells reused from an "
        "earlier setting cost nothing; **cells** computed).",
        "",
    ]
    for ds in found:
        summary = pd.DataFrame(rows(ds))
        sp = ds["splits"]
        lines += [
            f"## {ds['dataset']}: variants = values of `{ds['column']}`",
            "",
            f"Splits: train {sp['train']['rows']} rows / {sp['train']['frauds']} frauds, valid "
            f"{sp['valid']['rows']} / {sp['valid']['frauds']}, test {sp['test']['rows']} / "
            f"{sp['test']['frauds']}; recall at {ds['budget'] * 100:g}% FPR.",
            "",
            "| knob | setting | config | judged | mean diff | helps / hurts | largest diff (CI) variant | "
            "known diff | DCR ratio | reach | s | cells |",
            "|---|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in summary.itertuples():
            failed = f" ({r.failed} failed)" if r.failed else ""
            lines.append(
                f"| {r.knob} | {r.setting} | {r.config} | {r.judged}{failed} | {r.mean_diff:+.3f} | "
                f"{r.helps} / {r.hurts} | {r.best} | {r.known_diff:+.3f} | "
                f"{r.dcr_ratio:.2f} | {r.reach:.2f} | {r.wall_s:.0f} | {r.computed} |"
            )
        lines += ["", f"Reading: {reading(ds, summary)}", ""]
    if not any(ds["dataset"] == "fraud_oracle.csv" for ds in found):
        lines += [f"fraud_oracle.csv: skipped ({ORACLE} not found).", ""]
    (RESULTS / "unseen.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
