"""Benchmark: peak memory of the evaluate stage on a partitioned table, in this process (every score held: the
pandas path) and out of core (the workers score the parts; `pipeline/experiment/out_of_core.py`).

Setup (not measured): a transaction-like table of `--base-rows` rows (`tests/bench/compute.py`'s generator: 10
features, 2 categorical, ~0.5% fraud) through the real prepare, fit (smote), sample and train stages (xgboost
engine, sequential; `DETECTOR`: baseline, reweight and smote at 50%, 2 seeds: 6 detectors). Then the prepared
validation and test splits are replaced by folders of Parquet parts of `PART_ROWS` rows drawn with replacement from
them (`--valid-rows`, `--test-rows`; same columns and dtypes as prepare writes, seeded), so evaluate meets a large
table while setup stays quick. `evaluate.segments: [channel]`.

Measured: `python -m pipeline evaluate` twice on the same detector files: the pandas path (train.json's engine
`xgboost`, `compute.scheduler: sequential`), and out of core (engine `dask`, a LocalCluster of 2 workers x 1
thread started by the stage, `compute.worker_memory` 2GiB). Peak RSS of the stage process and of each of its child
processes (the workers) is polled with psutil every 0.1 s. The two comparison tables are checked: same verdicts,
same numbers (PR-AUC and ROC-AUC to 1e-12).

Run from the repository root: `.venv/bin/python tests/bench/evaluate_memory.py`. Results go to
tests/bench/results/evaluate_out_of_core.json and a table to tests/bench/results/evaluate_out_of_core.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.benchlib import child_env, loadavg, versions  # noqa: E402
from tests.bench.compute import _params, _run, simulate_large  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "evaluate_out_of_core.json"
TABLE = ROOT / "tests" / "bench" / "results" / "evaluate_out_of_core.md"
PART_ROWS = 250_000
DETECTOR = {"seeds": [0, 1], "n_estimators": 50, "early_stopping_rounds": 10, "n_jobs": 2}


def setup(root: Path, base_rows: int, valid_rows: int, test_rows: int) -> dict:
    """A project root with trained detectors and large partitioned validation and test splits."""
    (root / "data" / "raw").mkdir(parents=True)
    raw = root / "data" / "raw" / "table.parquet"
    table = simulate_large(raw, base_rows)
    _params(
        root,
        **{
            "data.source": "parquet",
            "data.path": str(raw),
            "data.label": "is_fraud",
            "data.time_column": "tx_time",
            "data.id_columns": [],
            "data.meta_columns": [],
            "data.partition_rows": 50_000,
            "generators": {"smote": {"k_neighbors": 5}},
            "augment.shares": [0.0, 0.5],
            **{f"detector.{k}": v for k, v in DETECTOR.items()},
            "compute.scheduler": "sequential",
            "evaluate.segments": ["channel"],
            "scarcity.generators": ["smote"],
            "unseen.generators": ["smote"],
        },
    )
    t0 = time.perf_counter()
    for stage in (["prepare"], ["fit", "smote", "0"], ["sample", "smote", "0"], ["train"]):
        _run(root, *stage)
    setup_s = time.perf_counter() - t0
    return {"base_table": table, "setup_s": round(setup_s, 1), "splits": draw_splits(root, valid_rows, test_rows)}


def draw_splits(root: Path, valid_rows: int, test_rows: int) -> dict:
    """The prepared validation and test splits replaced by Parquet parts of rows drawn (seeded, with replacement) from
    the splits prepare wrote (kept aside on the first call)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    sizes = {}
    for split, rows in (("valid", valid_rows), ("test", test_rows)):
        folder = root / "data" / "prepared" / f"{split}.parquet"
        kept = root / f"{split}.small.parquet"
        if not kept.exists():
            pd.read_parquet(folder).to_parquet(kept, index=False)
        small = pd.read_parquet(kept)
        for old in folder.glob("part-*.parquet"):
            old.unlink()
        for k, start in enumerate(range(0, rows, PART_ROWS)):
            n = min(PART_ROWS, rows - start)
            small.iloc[rng.integers(0, len(small), n)].reset_index(drop=True).to_parquet(
                folder / f"part-{k:05d}.parquet", index=False
            )
        sizes[split] = {"rows": rows, "parts": k + 1, "frauds_drawn_from": int(small["is_fraud"].sum())}
    return sizes


def measure(root: Path, engine: str) -> dict:
    """`python -m pipeline evaluate` with train.json's engine set to `engine`: wall time, peak RSS of the stage and of
    each child process."""
    import psutil
    import yaml

    report = root / "reports" / "train.json"
    train = json.loads(report.read_text())
    train["engine"] = engine
    report.write_text(json.dumps(train))
    compute = (
        {"scheduler": "sequential"}
        if engine == "xgboost"
        else {"scheduler": "local", "workers": 2, "worker_memory": "2GiB", "min_tasks": 1}
    )
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["compute"].update(compute)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--root", str(root), "evaluate"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peaks: dict[int, float] = {}
    names: dict[int, str] = {}
    done = threading.Event()

    def poll() -> None:
        stage = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [stage, *stage.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    rss = p.memory_info().rss / 2**20
                    peaks[p.pid] = max(peaks.get(p.pid, 0.0), rss)
                    names.setdefault(p.pid, "stage" if p.pid == proc.pid else " ".join(p.cmdline()[:3])[-60:])
                except psutil.Error:
                    pass
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    done.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"evaluate ({engine}) failed: {err[-3000:]}")
    wall = time.perf_counter() - t0
    stage = peaks.pop(proc.pid)
    # the workers: children that held memory (a spawn helper or resource tracker holds a few MiB)
    workers = sorted((round(v) for v in peaks.values() if v > 100), reverse=True)
    return {
        "engine": engine,
        "wall_s": round(wall, 1),
        "stage_peak_rss_mib": round(stage),
        "worker_peak_rss_mib": workers,
        "largest_process_peak_mib": max([round(stage), *workers]),
        "stdout_last": out.strip().splitlines()[-1],
    }


def at_rest() -> int:
    """Peak RSS (MiB) of a process that only imports the evaluate stage's modules and starts the LocalCluster the
    out-of-core run starts: the part of each stage peak that does not depend on the data."""
    code = (
        "import resource, pipeline.stages.evaluate, pipeline.experiment.out_of_core, dask.dataframe\n"
        "from distributed import Client, LocalCluster\n"
        "c = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=':0'); cl = Client(c)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024); cl.close(); c.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=child_env(), capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def compare_tables(a: Path, b: Path) -> dict:
    import numpy as np
    import pandas as pd

    x, y = pd.read_csv(a), pd.read_csv(b)
    areas = [c for c in x.columns if c.startswith(("pr_auc", "roc_auc", "valid_pr_auc"))]
    rest = [c for c in x.columns if c not in areas]
    exact = bool(x[rest].equals(y[rest]))
    num = [c for c in areas if pd.api.types.is_float_dtype(x[c])]
    rel = float(
        np.nanmax(np.abs(x[num].to_numpy() - y[num].to_numpy()) / np.maximum(np.abs(x[num].to_numpy()), 1e-300))
    )
    return {
        "same_verdicts": bool(x["verdict"].equals(y["verdict"])),
        "identical_but_areas": exact,
        "areas_max_rel_diff": rel,
        "rows": len(x),
    }


def table(r: dict) -> str:
    s = r["setup"]["splits"]
    lines = [
        "# evaluate out of core: peak memory",
        "",
        f"Measured {r['when']} by `tests/bench/evaluate_memory.py` on this machine ({r['cores']} cores, load average "
        f"before {r['loadavg_before']}). Detectors: {r['detectors']} (xgboost engine, trained on a "
        f"{r['setup']['base_table']['rows']:,}-row table's training split); validation split {s['valid']['rows']:,} rows in "
        f"{s['valid']['parts']} Parquet parts, test split {s['test']['rows']:,} rows in {s['test']['parts']} parts "
        "(rows drawn with replacement from the prepared splits); `evaluate.segments: [channel]`.",
        "",
        "| evaluate path | wall | stage process peak RSS | worker peak RSS | largest process |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in (
        ("pandas", "pandas: every row and score in the stage process"),
        ("ooc", "out of core: LocalCluster, 2 workers x 1 thread, 2 GiB each"),
    ):
        m = r[key]
        w = " / ".join(f"{v:,} MiB" for v in m["worker_peak_rss_mib"]) or "-"
        lines.append(
            f"| {label} | {m['wall_s']} s | {m['stage_peak_rss_mib']:,} MiB | {w} | {m['largest_process_peak_mib']:,} MiB |"
        )
    c, q = r["comparison"], r["quarter"]
    lines += [
        "",
        f"A process that only imports the stage's modules and starts the LocalCluster peaks at {r['at_rest_mib']} MiB: "
        "that part of each figure does not depend on the table. The same out-of-core run on a quarter of the rows "
        f"(validation {q['splits']['valid']['rows']:,}, test {q['splits']['test']['rows']:,}, so a quarter of the "
        f"frauds too): stage process {q['ooc']['stage_peak_rss_mib']:,} MiB, workers "
        + " / ".join(f"{v:,} MiB" for v in q["ooc"]["worker_peak_rss_mib"])
        + f". So the stage process grew by {r['ooc']['stage_peak_rss_mib'] - q['ooc']['stage_peak_rss_mib']:,} MiB "
        "for 4x the rows and 4x the frauds, where the pandas path holds every row and score. By design it holds no "
        "split and no column of scores: what grows is what the test frauds bring (their scores and segment columns, "
        "and the bootstrap's draws over them, `n_boot` x frauds float64 per comparison: 8 MB per 1,000 test frauds at n_boot 1,000) and "
        "the review queue; this benchmark does not separate rows from frauds.",
        "",
        f"Comparison tables ({c['rows']} configurations): same verdicts {c['same_verdicts']}; every column identical but "
        f"PR-AUC and ROC-AUC: {c['identical_but_areas']}; those within a relative {c['areas_max_rel_diff']:.1e} "
        "(sklearn sums the curve in fewer terms).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-rows", type=int, default=200_000)
    ap.add_argument("--valid-rows", type=int, default=750_000)
    ap.add_argument("--test-rows", type=int, default=1_250_000)
    args = ap.parse_args()
    import os
    import shutil

    with tempfile.TemporaryDirectory(prefix="bench_evaluate_") as tmp:
        root = Path(tmp) / "p"
        root.mkdir()
        t0 = time.perf_counter()
        result = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cores": os.cpu_count(),
            "loadavg_before": loadavg(),
            "versions": versions(("dask", "distributed", "xgboost", "pandas", "scikit-learn")),
        }
        result["setup"] = setup(root, args.base_rows, args.valid_rows, args.test_rows)
        result["detectors"] = len(json.loads((root / "reports" / "train.json").read_text())["detectors"])
        print(f"setup: {json.dumps(result['setup'])}", flush=True)
        result["at_rest_mib"] = at_rest()
        result["pandas"] = measure(root, "xgboost")
        shutil.copytree(root / "reports", Path(tmp) / "reports_pandas")
        print(f"pandas: {json.dumps(result['pandas'])}", flush=True)
        result["ooc"] = measure(root, "dask")
        print(f"out of core: {json.dumps(result['ooc'])}", flush=True)
        result["comparison"] = compare_tables(
            Path(tmp) / "reports_pandas" / "comparison.csv", root / "reports" / "comparison.csv"
        )
        result["quarter"] = {"splits": draw_splits(root, args.valid_rows // 4, args.test_rows // 4)}
        result["quarter"]["ooc"] = measure(root, "dask")
        print(f"out of core, a quarter of the rows: {json.dumps(result['quarter'])}", flush=True)
        result["total_s"] = round(time.perf_counter() - t0, 1)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    TABLE.write_text(table(result))
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
