"""Benchmark: the compute backend (pipeline/core/compute.py) and the dask engine (pipeline/experiment/engine_dask.py).

Part `train`: the train stage's wall time on the built-in simulated data (default size, 178k transactions)
with the shipped grid's size - 6 generators x 3 shares x 3 detector seeds + 2 baselines x 3 seeds = 60
detectors; the generators here are the fast ones (gaussian_copula, smote, random_oversample, arf,
borderline_smote, adasyn) so the setup takes seconds, and the detectors cost what the shipped grid's do - run
as `python -m pipeline train` three ways:
  1. sequential, XGBoost n_jobs = 2 (one detector at a time using both cores: the stage before Dask),
  2. sequential, n_jobs = 1 (one detector at a time on one core: what each Dask worker does),
  3. a LocalCluster of 2 single-threaded workers (compute.workers: 2).
The three sets of detector files must be byte-identical (checked).

Part `large`: a simulated table of `--rows` transactions (default 5,000,000; 10 features, 2 categorical,
~0.5% fraud) written as one Parquet file, run through the real `prepare` stage with data.partition_rows =
250,000 (the splits become folders of parts), then one real-only detector trained and the test split scored:
  - engine dask: a LocalCluster of 2 workers x 1 thread with a memory limit per worker (`--worker-memory`,
    default 2GiB); peak RSS per worker process polled every 0.25 s, the client process's own peak;
  - engine xgboost (pandas): the whole training split in one process (n_jobs 2); its peak RSS.
Each child is its own process, so each peak is its own.

Run from the repository root: `.venv/bin/python tests/bench/compute.py [--part train|large|all]`. Results go to
tests/bench/results/compute.json and a table to tests/bench/results/compute.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.benchlib import busy_cpu_s, child_env, loadavg, versions  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "compute.json"
TABLE = ROOT / "tests" / "bench" / "results" / "compute.md"
FAST_GENERATORS = {
    "gaussian_copula": {},
    "smote": {"k_neighbors": 5},
    "random_oversample": {},
    "arf": {},
    "borderline_smote": {},
    "adasyn": {},
}
PARTITION_ROWS = 250_000
LARGE_DETECTOR = {"n_estimators": 200, "early_stopping_rounds": 20, "seeds": [0]}


def _params(root: Path, **over) -> dict:
    import yaml

    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    for dotted, v in over.items():
        d = p
        *head, last = dotted.split(".")
        for k in head:
            d = d[k]
        d[last] = v
    (root / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    return p


def _run(root: Path, *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "--root", str(root), *args], env=child_env(), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - t0, proc.stdout


def _models(root: Path) -> dict[str, bytes]:
    d = root / "models" / "detectors"
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*.json"))}


def part_train(work: Path) -> dict:
    root = work / "train"
    (root / "data" / "raw").mkdir(parents=True)
    _params(root, generators=FAST_GENERATORS, **{"compute.scheduler": "sequential"})
    for stage in ("prepare",):
        _run(root, stage)
    for g in FAST_GENERATORS:
        _run(root, "fit", g, "0")
        _run(root, "sample", g, "0")
    runs, models = {}, {}
    ways = {
        "sequential, n_jobs 2": {"compute.scheduler": "sequential", "detector.n_jobs": 2},
        "sequential, n_jobs 1": {"compute.scheduler": "sequential", "detector.n_jobs": 1},
        "LocalCluster 2 workers x 1 thread": {"compute.scheduler": "local", "compute.workers": 2},
    }
    for name, over in ways.items():
        _params(root, generators=FAST_GENERATORS, **over)
        load0, cpu0 = loadavg(), busy_cpu_s()
        wall, out = _run(root, "train")
        report = json.loads((root / "reports" / "train.json").read_text())
        runs[name] = {
            "wall_s": round(wall, 1),
            "stage_seconds": report["seconds"],
            "fit_seconds_sum": round(sum(d["fit_seconds"] for d in report["detectors"]), 1),
            "detectors": len(report["detectors"]),
            "loadavg_start": load0,
            "loadavg_end": loadavg(),
            "busy_cpu_s": round(busy_cpu_s() - cpu0, 1),
            "announced": out.splitlines()[0],
        }
        models[name] = _models(root)
        print(f"train, {name}: {wall:.1f}s", flush=True)
    ref = models["sequential, n_jobs 2"]
    return {
        "runs": runs,
        "identical_detectors": all(m == ref for m in models.values()),
        "speedup_vs_sequential_n_jobs_2": round(
            runs["sequential, n_jobs 2"]["wall_s"] / runs["LocalCluster 2 workers x 1 thread"]["wall_s"], 2
        ),
        "speedup_vs_sequential_n_jobs_1": round(
            runs["sequential, n_jobs 1"]["wall_s"] / runs["LocalCluster 2 workers x 1 thread"]["wall_s"], 2
        ),
    }


def simulate_large(path: Path, rows: int, seed: int = 0, chunk: int = 500_000) -> dict:
    """A transaction-like table written chunk by chunk (never whole in memory): time-ordered, 10 features."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    channels = np.array(["web", "pos", "atm", "phone", "moto", "recurring"])
    mccs = np.array([f"mcc{k:02d}" for k in range(30)])
    writer, frauds = None, 0
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        df = pd.DataFrame(
            {
                "tx_time": np.arange(start, start + n, dtype="int64") * 6,
                "amount": np.round(rng.lognormal(3.5, 1.1, n), 2),
                "hour": rng.integers(0, 24, n),
                "n_tx_1d": rng.poisson(2.0, n),
                "n_tx_7d": rng.poisson(12.0, n),
                "avg_amount_7d": np.round(rng.lognormal(3.5, 0.6, n), 2),
                "terminal_risk_7d": rng.beta(1, 60, n),
                "distance_home": rng.exponential(8.0, n),
                "card_age_days": rng.integers(1, 3000, n),
                "channel": rng.choice(channels, n, p=[0.35, 0.4, 0.08, 0.05, 0.07, 0.05]),
                "mcc": rng.choice(mccs, n),
            }
        )
        z = (
            -7.2
            + 1.1 * np.log(df["amount"] / df["avg_amount_7d"])
            + 25 * df["terminal_risk_7d"]
            + 0.04 * df["distance_home"]
            + 0.8 * (df["channel"] == "moto")
            + 0.6 * df["hour"].isin([1, 2, 3, 4])
            + 0.5 * (df["card_age_days"] < 60)
            + 0.6 * df["mcc"].isin(["mcc07", "mcc19", "mcc23"])
        )
        df["is_fraud"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype("int8")
        frauds += int(df["is_fraud"].sum())
        table = pa.Table.from_pandas(df, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    return {"rows": rows, "frauds": frauds, "fraud_rate": round(frauds / rows, 5), "bytes": path.stat().st_size}


def _gnu_time(cmd: list[str]) -> tuple[float, float, str]:
    """(wall s, peak RSS MiB of the largest process, stdout) of `cmd` under /usr/bin/time -v."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], env=child_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr[-3000:]}")
    kib = next(int(line.split(":")[1]) for line in proc.stderr.splitlines() if "Maximum resident set size" in line)
    return wall, kib / 1024, proc.stdout


def part_large(work: Path, rows: int, worker_memory: str) -> dict:
    root = work / "large"
    (root / "data" / "raw").mkdir(parents=True)
    raw = root / "data" / "raw" / "large.parquet"
    t0 = time.perf_counter()
    table = simulate_large(raw, rows)
    table["simulate_s"] = round(time.perf_counter() - t0, 1)
    print(f"large: simulated {rows} rows in {table['simulate_s']}s", flush=True)
    _params(
        root,
        **{
            "data.source": "parquet",
            "data.path": str(raw),
            "data.label": "is_fraud",
            "data.time_column": "tx_time",
            "data.id_columns": [],
            "data.meta_columns": [],
            "data.partition_rows": PARTITION_ROWS,
            "generators": {"smote": {}},
            "scarcity.generators": ["smote"],
        },
    )
    wall, peak, out = _gnu_time([sys.executable, "-m", "pipeline", "--root", str(root), "prepare"])
    prep = {"wall_s": round(wall, 1), "peak_rss_mib": round(peak), "stdout": out.strip().splitlines()[0]}
    print(f"large: prepare {wall:.1f}s, peak {peak:.0f} MiB", flush=True)
    out = {"table": table, "prepare": prep, "partition_rows": PARTITION_ROWS, "worker_memory": worker_memory}
    for engine in ("dask", "xgboost"):
        wall, peak, stdout = _gnu_time(
            [sys.executable, __file__, "--child", engine, "--root", str(root), "--worker-memory", worker_memory]
        )
        res = json.loads(stdout.strip().splitlines()[-1])
        res.update({"wall_s": round(wall, 1), "largest_process_peak_mib": round(peak)})
        out[engine] = res
        print(f"large: engine {engine}: {json.dumps(res)}", flush=True)
    return out


def _child(engine: str, root: Path, worker_memory: str) -> None:
    """One detector on the large table with `engine`; prints a JSON line of figures."""
    import numpy as np
    import pandas as pd

    from pipeline.core.paths import Paths
    from pipeline.core.schema import Schema
    from pipeline.experiment.detector import predict_scores, train_detector
    from pipeline.experiment.metrics import threshold_at_fpr

    paths = Paths.at(root)
    schema = Schema.load(paths.schema)
    valid = pd.read_parquet(paths.split("valid"))
    X_valid, y_valid = schema.to_model_frame(valid), valid[schema.label].to_numpy()
    import yaml

    det = {**yaml.safe_load((root / "params.yaml").read_text())["detector"], **LARGE_DETECTOR}
    res: dict = {"engine": engine}
    if engine == "dask":
        import psutil
        from distributed import Client, LocalCluster

        from pipeline.experiment import engine_dask

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=worker_memory, dashboard_address=":0")
        client = Client(cluster)
        pids = list(client.run(os.getpid).values())
        peaks = {p: 0.0 for p in pids}
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                for p in pids:
                    try:
                        peaks[p] = max(peaks[p], psutil.Process(p).memory_info().rss / 2**20)
                    except psutil.Error:
                        pass
                time.sleep(0.25)

        threading.Thread(target=poll, daemon=True).start()
        t0 = time.perf_counter()
        ddf = engine_dask.read_split(paths.split("train"), schema)
        X, y = engine_dask.model_frame(ddf, schema)
        X, y = client.persist([X, y])
        rows, frauds = engine_dask.count_frauds(y)
        model, info = engine_dask.train_detector(
            client, X, y, X_valid, y_valid, det, seed=0, workers=engine_dask.holders(client, X)
        )
        res["train_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        test = engine_dask.read_split(paths.split("test"), schema, columns=[schema.label])
        scores = engine_dask.score_split(engine_dask.read_split(paths.split("test"), schema), [model], schema)[0]
        y_test = np.asarray(test[schema.label].compute())
        res["score_s"] = round(time.perf_counter() - t0, 1)
        stop.set()
        time.sleep(0.3)
        res.update(
            {
                "train_rows": rows,
                "train_partitions": int(ddf.npartitions),
                "worker_peak_rss_mib": [round(v) for v in peaks.values()],
            }
        )
        client.close()
        cluster.close()
    else:
        t0 = time.perf_counter()
        train = pd.read_parquet(paths.split("train"))
        model, info = train_detector(
            schema.to_model_frame(train), train[schema.label].to_numpy(), X_valid, y_valid, det, seed=0
        )
        res["train_rows"] = len(train)
        del train
        res["train_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        test = pd.read_parquet(paths.split("test"))
        scores, y_test = predict_scores(model, schema.to_model_frame(test)), test[schema.label].to_numpy()
        res["score_s"] = round(time.perf_counter() - t0, 1)
    t = threshold_at_fpr(predict_scores(model, X_valid)[y_valid == 0], 0.005)
    res.update(
        {
            "best_iteration": info["best_iteration"],
            "valid_aucpr": round(info["valid_aucpr"], 4),
            "test_recall_at_0.5pct_fpr": round(float((scores[y_test == 1] >= t).mean()), 4),
            "test_rows_scored": int(len(scores)),
            "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )
    print(json.dumps(res))


def table(results: dict) -> str:
    lines = ["# Compute backend and dask engine (tests/bench/compute.py)", ""]
    tr = results.get("train")
    if tr:
        lines += [
            "## Train stage, built-in data (60 detectors), this machine's 2 cores",
            "",
            "| way | wall s | sum of per-detector fit s | load avg start |",
            "|---|---|---|---|",
        ]
        for name, r in tr["runs"].items():
            lines.append(f"| {name} | {r['wall_s']} | {r['fit_seconds_sum']} | {r['loadavg_start'][0]} |")
        lines += [
            "",
            f"Detector files byte-identical across the three: {tr['identical_detectors']}. LocalCluster "
            f"speed-up: {tr['speedup_vs_sequential_n_jobs_2']}x over sequential with XGBoost's 2 threads, "
            f"{tr['speedup_vs_sequential_n_jobs_1']}x over sequential with 1 thread.",
            "",
        ]
    lg = results.get("large")
    if lg:
        t = lg["table"]
        lines += [
            f"## {t['rows']:,} simulated transactions ({t['frauds']:,} frauds), one real-only detector",
            "",
            f"prepare (pandas, whole table; splits written as parts of {lg['partition_rows']:,} rows): "
            f"{lg['prepare']['wall_s']} s, peak {lg['prepare']['peak_rss_mib']} MiB.",
            "",
            "| engine | train rows | train s | score test s | peak RSS | recall @ 0.5% FPR | best iteration |",
            "|---|---|---|---|---|---|---|",
        ]
        d, x = lg["dask"], lg["xgboost"]
        lines.append(
            f"| dask (2 workers x 1 thread, limit {lg['worker_memory']} each; {d['train_partitions']} parts) "
            f"| {d['train_rows']:,} | {d['train_s']} | {d['score_s']} | workers "
            f"{' / '.join(str(v) for v in d['worker_peak_rss_mib'])} MiB, client {d['process_peak_rss_mib']} "
            f"MiB | {d['test_recall_at_0.5pct_fpr']} | {d['best_iteration']} |"
        )
        lines.append(
            f"| xgboost (pandas, one process, 2 threads) | {x['train_rows']:,} | {x['train_s']} | "
            f"{x['score_s']} | {x['process_peak_rss_mib']} MiB | {x['test_recall_at_0.5pct_fpr']} | "
            f"{x['best_iteration']} |"
        )
        lines.append("")
    return "\n".join(lines) + "\n"


class _keep:
    def __init__(self, path: str):
        self.path = path

    def __enter__(self) -> str:
        Path(self.path).mkdir(parents=True, exist_ok=False)
        return self.path

    def __exit__(self, *exc) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("train", "large", "all"), default="all")
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--worker-memory", default="2GiB")
    ap.add_argument("--child", choices=("dask", "xgboost"))
    ap.add_argument("--root")
    ap.add_argument("--work", help="keep the projects in this folder (default: a temporary one)")
    a = ap.parse_args()
    if a.child:
        _child(a.child, Path(a.root), a.worker_memory)
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["versions"] = versions(("dask", "distributed", "xgboost-cpu", "pandas"))
    results["cores"] = os.cpu_count()
    with tempfile.TemporaryDirectory() if not a.work else _keep(a.work) as d:
        if a.part in ("train", "all"):
            results["train"] = part_train(Path(d))
        if a.part in ("large", "all"):
            results["large"] = part_large(Path(d), a.rows, a.worker_memory)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    TABLE.write_text(table(results))
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
