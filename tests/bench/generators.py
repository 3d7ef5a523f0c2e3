"""Benchmark: fit time and peak memory of every registered generator, and CTGAN's overhead.

1. Grid: every generator of ``pipeline.generators.GENERATORS`` (ctgan, tvae, gaussian_copula,
   copulagan, smote, borderline_smote, adasyn, random_oversample) fitted on seed sets of 100, 400
   and 1,600 rows, each (generator, size) in a FRESH subprocess. Reported: wall time of
   ``Generator.fit`` (and its own ``fit_info["fit_seconds"]``); the peak RSS of the subprocess at
   the end of the fit (VmHWM, i.e. the ru_maxrss of the new process image: Linux's ru_maxrss of a
   fork+exec'd child also counts the parent's RSS at fork time, so it is recorded but not used);
   the after-import baseline (the same peak after importing SDV/torch or imbalanced-learn and
   loading the data); peak minus baseline; and the peak RSS summed over the subprocess and its
   child processes (psutil, every 0.1 s): CTGAN's DataTransformer (ctgan, tvae, copulagan) runs
   joblib/loky worker processes from 500 seed rows on. The neural models are also fitted at
   1,600 rows under joblib's sequential backend to show what those workers cost.
   Seed rows: the first N fraud rows (time order) of the built-in simulator + features
   (``simulate_transactions(n_customers=3000, n_terminals=6000, n_days=120, day_offset=60)`` +
   ``add_transaction_features``), restricted to the feature columns of
   ``infer_schema(label=is_fraud, time=tx_datetime, ids=[tx_id, customer_id, terminal_id],
   meta=[fraud_scenario])``. Oversamplers also get ``train=`` = the seed rows plus the first 20*N
   legitimate rows. Hyperparameters: ``params.yaml``'s for the configured generators (epochs 150,
   batch_size 500), the same epochs/batch_size for copulagan, registry defaults otherwise;
   ``verbose`` forced off; ``torch_threads`` left at its default (1).
2. CTGAN overhead: on the same 400 seed rows, our ``ctgan`` generator's ``fit`` against the raw
   ``ctgan`` package (``CTGAN(epochs, batch_size, pac, verbose=False, enable_gpu=False).fit(df,
   discrete_columns)``) with the same epochs / batch_size (the value our generator actually uses)
   / pac, the same modelled columns and the same torch thread count (``torch.set_num_threads``),
   each in a fresh subprocess, 2 repeats each, interleaved. Both sides pre-import the same modules;
   the first fit in the process ("cold", the headline) and the same fit again ("warm") are timed.
   Ratio = pipeline / raw (target <= 1.2), from the best (min) and the mean of the repeats. Both
   fits are then profiled with cProfile in a subprocess (required when a ratio exceeds 1.2, done
   anyway for the record) and the difference is split into our wrapper, SDV's preprocessing (RDT),
   CTGAN's DataTransformer and the training loop.

``os.getloadavg()`` is recorded at the start and end of every measurement, and the CPU seconds
other jobs used on the machine during it (``cpu_s.other_jobs``; this 2-core machine is shared).
Run from the repository root: ``.venv/bin/python tests/bench/generators.py`` (about 10-15
minutes). Results go to ``tests/bench/results/generators.json`` and a table to
``tests/bench/results/generators.md`` (``--table-only`` rewrites the table from the JSON).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)  # the script folder must not shadow anything
else:
    sys.path.insert(0, str(ROOT))

from tests.bench.benchlib import busy_cpu_s, child_env, loadavg, versions  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "generators.json"
TABLE = ROOT / "tests" / "bench" / "results" / "generators.md"

SIZES = (100, 400, 1600)
LEGIT_PER_SEED = 20
SIM = dict(n_customers=3000, n_terminals=6000, n_days=120, day_offset=60)
LABEL, TIME, IDS, META = "is_fraud", "tx_datetime", ["tx_id", "customer_id", "terminal_id"], ["fraud_scenario"]
OVERHEAD_ROWS = 400
OVERHEAD_REPEATS = 2
RATIO_TARGET = 1.2
FIT_TIMEOUT_S = 1200
NEURAL = ("ctgan", "tvae", "copulagan")


# ---------------------------------------------------------------------------------------------
# helpers (parent and children)
# ---------------------------------------------------------------------------------------------
def _ru_maxrss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _peak_mib() -> float:
    """Peak RSS of this process since exec: VmHWM, else ru_maxrss.

    After fork+exec, Linux's ru_maxrss also counts the RSS the forked copy of the PARENT had
    before exec, so a big parent would inflate every child's figure; VmHWM belongs to the new
    process image only. The parent is kept small anyway (the seed data is built in a child).
    """
    import re

    try:
        m = re.search(r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    return _ru_maxrss_mib()


def _tree_cpu_s() -> float:
    """CPU seconds of this process, its reaped children and its live child processes (loky workers)."""
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for k in me.children(recursive=True):
        try:
            kt = k.cpu_times()
            total += kt.user + kt.system
        except psutil.Error:
            pass
    return total


class _Contention:
    """CPU seconds other jobs used on the machine while a block ran (this process tree excluded)."""

    def __enter__(self) -> _Contention:
        self.t0, self.busy0, self.own0 = time.perf_counter(), busy_cpu_s(), _tree_cpu_s()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self.t0
        own = _tree_cpu_s() - self.own0
        busy = busy_cpu_s() - self.busy0
        self.result = {
            "this_fit": round(own, 2),
            "other_jobs": round(max(busy - own, 0.0), 2),
            "capacity": round(wall * (os.cpu_count() or 1), 2),
        }


def hyperparameters(kind: str) -> dict:
    """params.yaml's hyperparameters for `kind` (if configured), verbose off."""
    import yaml

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    gens = raw.get("generators") or {}
    hp: dict = {}
    for name, cfg in gens.items():
        cfg = dict(cfg or {})
        if cfg.pop("type", name) == kind:
            hp = cfg
            break
    if kind in NEURAL:
        ref = dict(gens.get("ctgan") or {})
        hp.setdefault("epochs", ref.get("epochs", 150))
        hp.setdefault("batch_size", ref.get("batch_size", 500))
    if "verbose" in hp or kind in NEURAL:
        hp["verbose"] = False
    return hp


def _read_data(datadir: Path, n: int, with_legit: bool):
    import pandas as pd

    from pipeline.core.schema import Schema

    schema = Schema.load(datadir / "schema.json")
    fraud = pd.read_parquet(datadir / "fraud.parquet").head(n)
    seed_set = schema.conform(fraud).reset_index(drop=True)
    train = None
    if with_legit:
        legit = pd.read_parquet(datadir / "legit.parquet").head(LEGIT_PER_SEED * n)
        both = pd.concat([fraud, legit], ignore_index=True)
        train = pd.concat([schema.conform(both), both[[schema.label]]], axis=1)
    return schema, seed_set, train


def _modelled_columns(seed_set, schema) -> list[str]:
    """The columns our Generator.fit models: constant and all-NaN columns removed."""
    cols = []
    for c in schema.feature_names:
        v = seed_set[c]
        if v.isna().all() or (v.notna().all() and v.nunique() == 1):
            continue
        cols.append(c)
    return cols


class _TreePoller:
    """Polls RSS of this process plus its child processes (CTGAN/TVAE's DataTransformer.transform
    runs joblib/loky workers for >= 500 rows; their memory is not in this process's VmHWM)."""

    def __init__(self, interval: float = 0.1):
        import threading

        self.interval = interval
        self.peak_sum = 0
        self.max_children = 0
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._halt.is_set():
            try:
                kids = me.children(recursive=True)
                total = me.memory_info().rss
                for k in kids:
                    try:
                        total += k.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak_sum = max(self.peak_sum, total)
                self.max_children = max(self.max_children, len(kids))
            except psutil.Error:
                pass
            self._halt.wait(self.interval)

    def __enter__(self) -> _TreePoller:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._halt.set()
        self._thread.join(timeout=2)


# ---------------------------------------------------------------------------------------------
# child: one (generator, size) fit
# ---------------------------------------------------------------------------------------------
def child_fit(kind: str, n: int, datadir: Path, sequential: bool = False) -> dict:
    """`sequential`: run the fit under joblib's sequential backend (no loky worker processes)."""
    import contextlib

    import pandas as pd  # noqa: F401

    from pipeline.generators import GENERATORS, make_generator

    family = GENERATORS[kind].family
    if family == "sdv":
        import sdv.single_table  # noqa: F401  (imported inside _fit otherwise: keep it out of the timing)
        import torch  # noqa: F401
    else:
        import imblearn.over_sampling  # noqa: F401
        import sklearn.neighbors  # noqa: F401
    schema, seed_set, train = _read_data(datadir, n, with_legit=family == "oversampler")
    baseline = _peak_mib()
    hp = hyperparameters(kind)
    gen = make_generator(kind, hp)
    if sequential:
        import joblib

        backend = joblib.parallel_config(backend="sequential")
    else:
        backend = contextlib.nullcontext()
    load_start = loadavg()
    with _TreePoller() as tree, backend, _Contention() as cpu:
        t0 = time.perf_counter()
        gen.fit(seed_set, schema, train=train, seed=0)
        wall = time.perf_counter() - t0
    load_end = loadavg()
    peak = _peak_mib()
    info = gen.fit_info
    return {
        "generator": kind,
        "joblib_backend": "sequential" if sequential else "default",
        "family": family,
        "seed_rows": len(seed_set),
        "legit_rows": int(info.get("legit_rows", 0)) or None,
        "hyperparameters": hp,
        "torch_threads": getattr(gen, "torch_threads", None),
        "fit_wall_s": round(wall, 3),
        "fit_info_seconds": info.get("fit_seconds"),
        "peak_mib": round(peak, 1),
        "baseline_mib": round(baseline, 1),
        "fit_mib": round(peak - baseline, 1),
        "ru_maxrss_mib": round(_ru_maxrss_mib(), 1),
        "peak_tree_mib": round(max(tree.peak_sum / 2**20, peak), 1),
        "child_processes": tree.max_children,
        "modelled_columns": info.get("modelled_columns"),
        "dropped_constant_columns": info.get("dropped_constant_columns"),
        "batch_size_used": info.get("batch_size_used"),
        "epochs": info.get("epochs"),
        "final_loss": info.get("final_loss"),
        "notes": info.get("notes"),
        "n_warnings": len(info.get("warnings") or []),
        "loadavg": {"start": load_start, "end": load_end},
        "cpu_s": cpu.result,
    }


# ---------------------------------------------------------------------------------------------
# child: CTGAN overhead (pipeline vs raw) and profiles
# ---------------------------------------------------------------------------------------------
def _overhead_setup(which: str, n: int, datadir: Path):
    """Imports and data for one overhead run; returns (fit callable, description)."""
    import random

    # Same import state on both sides, so a cold fit pays the same lazy imports: the modules the
    # raw CTGAN would otherwise import inside fit (RDT transformers, sklearn.mixture, scipy.stats)
    # are loaded up front, as `import sdv.single_table` does for the pipeline. What both still
    # import inside the first fit (torch._dynamo + sympy on the first optimizer step) is the same.
    import ctgan  # noqa: F401
    import numpy as np
    import rdt.transformers  # noqa: F401
    import scipy.stats  # noqa: F401
    import sklearn.mixture  # noqa: F401
    import torch

    schema, seed_set, _ = _read_data(datadir, n, with_legit=False)
    hp = hyperparameters("ctgan")
    if which == "pipeline":
        import sdv.single_table  # noqa: F401

        from pipeline.generators import make_generator

        gen = make_generator("ctgan", hp)

        def fit():
            gen.fit(seed_set, schema, seed=0)
            return {
                "batch_size_used": gen.fit_info.get("batch_size_used"),
                "torch_threads": gen.torch_threads,
                "fit_info_seconds": gen.fit_info.get("fit_seconds"),
                "modelled_columns": gen.fit_info.get("modelled_columns"),
            }

        return fit
    from ctgan import CTGAN

    from pipeline.generators.registry import GENERATORS

    defaults = GENERATORS["ctgan"].hyperparameter_defaults()
    threads = int(defaults["torch_threads"])
    pac = int(hp.get("pac", defaults["pac"]))
    epochs = int(hp.get("epochs", defaults["epochs"]))
    cols = _modelled_columns(seed_set, schema)
    # the batch size our generator uses: largest multiple of lcm(pac, 2) <= min(batch_size, rows)
    step = pac * 2 // __import__("math").gcd(pac, 2)
    batch = max(step, min(int(hp.get("batch_size", defaults["batch_size"])), len(seed_set)) // step * step)
    df = seed_set[cols].copy()
    discrete = [c for c in schema.categorical if c in cols]

    def fit():
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        random.seed(0)
        np.random.seed(0)
        torch.manual_seed(0)
        try:
            model = CTGAN(epochs=epochs, batch_size=batch, pac=pac, verbose=False, enable_gpu=False)
            model.fit(df, discrete_columns=discrete)
        finally:
            torch.set_num_threads(before)
        return {
            "batch_size_used": batch,
            "torch_threads": threads,
            "modelled_columns": len(cols),
            "epochs": epochs,
            "pac": pac,
        }

    return fit


def child_overhead(which: str, n: int, datadir: Path) -> dict:
    """Two fits in one fresh process: `cold` (first fit) and `warm` (the same fit again)."""
    fit = _overhead_setup(which, n, datadir)
    baseline = _peak_mib()
    load_start = loadavg()
    with _Contention() as cpu_cold:
        t0 = time.perf_counter()
        extra = fit()
        cold = time.perf_counter() - t0
    peak = _peak_mib()
    load_mid = loadavg()
    with _Contention() as cpu_warm:
        t0 = time.perf_counter()
        fit()
        warm = time.perf_counter() - t0
    return {
        "which": which,
        "seed_rows": n,
        "fit_wall_s": round(cold, 3),
        "warm_fit_wall_s": round(warm, 3),
        **extra,
        "peak_mib": round(peak, 1),
        "baseline_mib": round(baseline, 1),
        "loadavg": {"start": load_start, "after_cold": load_mid, "end": loadavg()},
        "cpu_s": {"cold": cpu_cold.result, "warm": cpu_warm.result},
    }


# (label, file suffix, function name): cumulative time of these is reported from the profiles
KEY_FUNCTIONS = [
    ("pipeline Generator.fit (total)", "pipeline/generators/base.py", "fit"),
    ("pipeline Schema.conform", "pipeline/core/schema.py", "conform"),
    ("pipeline SDVGenerator._fit", "pipeline/generators/sdv_models.py", "_fit"),
    ("pipeline _metadata (SDV Metadata)", "pipeline/generators/sdv_models.py", "_metadata"),
    ("pipeline _loss_info", "pipeline/generators/sdv_models.py", "_loss_info"),
    ("SDV synthesizer __init__", "sdv/single_table/ctgan.py", "__init__"),
    ("SDV BaseSynthesizer.fit", "sdv/single_table/base.py", "fit"),
    ("SDV preprocess", "sdv/single_table/base.py", "preprocess"),
    ("SDV validate (data vs metadata)", "sdv/single_table/base.py", "validate"),
    (
        "SDV constraints (_validate_transform_constraints)",
        "sdv/single_table/base.py",
        "_validate_transform_constraints",
    ),
    ("SDV DataProcessor.fit (RDT HyperTransformer)", "sdv/data_processing/data_processor.py", "fit"),
    ("SDV DataProcessor.transform", "sdv/data_processing/data_processor.py", "transform"),
    ("RDT HyperTransformer.fit", "rdt/hyper_transformer.py", "fit"),
    ("RDT HyperTransformer.transform", "rdt/hyper_transformer.py", "transform"),
    ("SDV fit_processed_data", "sdv/single_table/base.py", "fit_processed_data"),
    ("SDV detect_discrete_columns", "sdv/single_table/utils.py", "detect_discrete_columns"),
    ("ctgan CTGAN.fit (model)", "ctgan/synthesizers/ctgan.py", "fit"),
    ("ctgan DataTransformer.fit (Bayesian GMM per column)", "ctgan/data_transformer.py", "fit"),
    ("ctgan DataTransformer.transform", "ctgan/data_transformer.py", "transform"),
    ("sklearn BayesianGaussianMixture fits", "sklearn/mixture/_base.py", "fit_predict"),
    ("torch backward", "torch/_tensor.py", "backward"),
    ("torch optimizer steps", "torch/optim/optimizer.py", "wrapper"),
    ("ctgan gradient penalty", "ctgan/synthesizers/ctgan.py", "calc_gradient_penalty"),
    ("ctgan DataSampler.sample_data", "ctgan/data_sampler.py", "sample_data"),
    ("ctgan _apply_activate", "ctgan/synthesizers/ctgan.py", "_apply_activate"),
    ("pandas DataFrame.__init__ (loss_values)", "pandas/core/frame.py", "__init__"),
    ("pandas concat", "pandas/core/reshape/concat.py", "concat"),
]


def _profile_summary(stats) -> dict:
    raw = stats.stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
    key = {}
    for label, suffix, func in KEY_FUNCTIONS:
        hits = [
            (ct, nc)
            for (f, _l, fn), (_cc, nc, _tt, ct, _c) in raw.items()
            if fn == func and f.replace("\\", "/").endswith(suffix)
        ]
        if hits:
            # several functions of that name in one file (e.g. wrappers): the largest is the outermost
            ct, nc = max(hits)
            key[label] = {"cum_s": round(ct, 3), "calls": nc}
    top_cum = sorted(raw.items(), key=lambda kv: -kv[1][3])
    top_tot = sorted(raw.items(), key=lambda kv: -kv[1][2])

    def fmt(kv):
        (f, line, fn), (_cc, nc, tt, ct, _c) = kv
        short = f.split("site-packages/")[-1].split("/work/main/")[-1]
        return {"function": f"{short}:{line}({fn})", "calls": nc, "tottime_s": round(tt, 3), "cumtime_s": round(ct, 3)}

    return {
        "total_s": round(stats.total_tt, 3),
        "key_functions": key,
        "top_cumulative": [fmt(kv) for kv in top_cum[:30]],
        "top_self": [fmt(kv) for kv in top_tot[:20]],
    }


def child_profile(which: str, n: int, datadir: Path, out: Path) -> dict:
    """cProfile of the cold (first) and the warm (second) fit in one fresh process."""
    import cProfile
    import pstats

    fit = _overhead_setup(which, n, datadir)
    res: dict = {"which": which}
    for phase in ("cold", "warm"):
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        fit()
        prof.disable()
        wall = time.perf_counter() - t0
        path = out.with_name(f"{out.stem}-{phase}{out.suffix}")
        prof.dump_stats(str(path))
        res[phase] = {
            "fit_wall_s_profiled": round(wall, 3),
            "profile_file": str(path),
            **_profile_summary(pstats.Stats(str(path))),
        }
    return res


# ---------------------------------------------------------------------------------------------
# parent
# ---------------------------------------------------------------------------------------------
def build_data(datadir: Path) -> dict:
    import pandas as pd

    from pipeline.config.params import defaults
    from pipeline.core.files import write_parquet
    from pipeline.data.contract import infer_schema
    from pipeline.data.features import add_transaction_features
    from pipeline.data.simulate import simulate_transactions

    t0 = time.perf_counter()
    d = defaults()["data"]
    feats = add_transaction_features(simulate_transactions(**{**d["simulate"], **SIM}), **d["features"])
    schema = infer_schema(feats, LABEL, TIME, IDS, META)
    fraud = feats.loc[feats[LABEL] == 1].head(max(SIZES))
    legit = feats.loc[feats[LABEL] == 0].head(LEGIT_PER_SEED * max(SIZES))
    if len(fraud) < max(SIZES):
        raise SystemExit(f"simulator gave only {len(fraud)} fraud rows; enlarge SIM")
    keep = [LABEL, *schema.feature_names]
    write_parquet(datadir / "fraud.parquet", fraud[keep].reset_index(drop=True))
    write_parquet(datadir / "legit.parquet", legit[keep].reset_index(drop=True))
    schema.save(datadir / "schema.json")
    return {
        "simulator": SIM,
        "rows": int(len(feats)),
        "frauds": int(feats[LABEL].sum()),
        "features": schema.feature_names,
        "categorical_features": schema.categorical,
        "legit_rows_per_seed_row": LEGIT_PER_SEED,
        "seconds": round(time.perf_counter() - t0, 2),
        "pandas": pd.__version__,
    }


def _run_child(args: list[str], timeout: float = FIT_TIMEOUT_S) -> dict:
    t0 = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=child_env(),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    proc_s = round(time.perf_counter() - t0, 2)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        tail = " | ".join(out.stderr.strip().splitlines()[-5:])
        return {"error": f"exit {out.returncode}: {tail[-600:]}", "process_s": proc_s}
    res = json.loads(lines[-1])
    res["process_s"] = proc_s  # includes interpreter start, imports and data loading
    return res


def _breakdown(pipe: dict, raw: dict) -> dict:
    """Pipeline vs raw profile, in the stages that differ."""
    pk, rk = pipe["key_functions"], raw["key_functions"]

    def g(d, k):
        return d.get(k, {}).get("cum_s", 0.0)

    p_total = g(pk, "pipeline Generator.fit (total)") or pipe["total_s"]
    r_total = g(rk, "ctgan CTGAN.fit (model)") or raw["total_s"]
    p_model = g(pk, "ctgan CTGAN.fit (model)")
    p_dt = g(pk, "ctgan DataTransformer.fit (Bayesian GMM per column)") + g(pk, "ctgan DataTransformer.transform")
    r_dt = g(rk, "ctgan DataTransformer.fit (Bayesian GMM per column)") + g(rk, "ctgan DataTransformer.transform")
    p_sdv = g(pk, "SDV BaseSynthesizer.fit")
    parts = {
        "our wrapper outside SDV fit (conform, checks, metadata, loss curve, seeding)": round(p_total - p_sdv, 3),
        "SDV fit outside the CTGAN model (validation, RDT preprocessing, ...)": round(p_sdv - p_model, 3),
        "  of which SDV preprocess (validate + RDT HyperTransformer fit/transform)": round(g(pk, "SDV preprocess"), 3),
        "CTGAN DataTransformer fit+transform: pipeline minus raw": round(p_dt - r_dt, 3),
        "CTGAN training loop (model fit minus DataTransformer): pipeline minus raw": round(
            (p_model - p_dt) - (r_total - r_dt), 3
        ),
    }
    main = {k: v for k, v in parts.items() if not k.startswith("  ")}
    dominant = max(main, key=lambda k: main[k])
    return {
        "pipeline_profiled_total_s": round(p_total, 3),
        "raw_profiled_total_s": round(r_total, 3),
        "difference_s": round(p_total - r_total, 3),
        "parts_of_difference_s": parts,
        "dominant": dominant,
        "pipeline_model_fit_s": round(p_model, 3),
        "pipeline_datatransformer_s": round(p_dt, 3),
        "raw_datatransformer_s": round(r_dt, 3),
    }


def _stats(xs: list[float]) -> dict:
    return {"each_s": xs, "min_s": min(xs), "mean_s": round(sum(xs) / len(xs), 3)}


def run_overhead(tmp: Path) -> dict:
    """Pipeline ctgan vs raw CTGAN: repeats in fresh subprocesses (interleaved), then profiles."""
    print("CTGAN overhead ...", flush=True)
    runs: dict[str, list] = {"pipeline": [], "raw": []}
    for _ in range(OVERHEAD_REPEATS):
        for which in ("pipeline", "raw"):
            res = _run_child(["--overhead", which, str(OVERHEAD_ROWS), str(tmp)])
            runs[which].append(res)
            print(
                f"  {which:8s}: cold {res.get('fit_wall_s', res.get('error'))} s, "
                f"warm {res.get('warm_fit_wall_s')} s "
                f"(other jobs' CPU {res.get('cpu_s', {}).get('cold', {}).get('other_jobs')} / "
                f"{res.get('cpu_s', {}).get('warm', {}).get('other_jobs')} s) "
                f"(batch {res.get('batch_size_used')}, threads {res.get('torch_threads')}, "
                f"load {res.get('loadavg', {}).get('start')})",
                flush=True,
            )
    hp = hyperparameters("ctgan")
    raw0 = runs["raw"][0]
    overhead: dict = {
        "seed_rows": OVERHEAD_ROWS,
        "epochs": hp.get("epochs"),
        "batch_size": raw0.get("batch_size_used"),
        "batch_size_requested": hp.get("batch_size"),
        "pac": raw0.get("pac"),
        "torch_threads": raw0.get("torch_threads"),
        "repeats": OVERHEAD_REPEATS,
        "note": (
            "cold = first fit in a fresh subprocess (the headline; both sides pre-import the same "
            "modules, see _overhead_setup); warm = the same fit again in that process. "
            "ratio_min = min(pipeline)/min(raw); ratio_mean = mean/mean"
        ),
        "runs": runs,
    }
    if not all("error" not in r for rs in runs.values() for r in rs):
        overhead.update(within_target=None, ratio_min=None, ratio_mean=None)
        return overhead
    for phase, key in (("cold", "fit_wall_s"), ("warm", "warm_fit_wall_s")):
        p = _stats([r[key] for r in runs["pipeline"]])
        r = _stats([x[key] for x in runs["raw"]])
        overhead[phase] = {
            "pipeline": p,
            "raw": r,
            "ratio_min": round(p["min_s"] / r["min_s"], 3),
            "ratio_mean": round(p["mean_s"] / r["mean_s"], 3),
        }
        print(
            f"  {phase}: ratio pipeline/raw {overhead[phase]['ratio_min']} (min), "
            f"{overhead[phase]['ratio_mean']} (mean)",
            flush=True,
        )
    overhead["ratio_min"] = overhead["cold"]["ratio_min"]
    overhead["ratio_mean"] = overhead["cold"]["ratio_mean"]
    overhead["within_target"] = overhead["ratio_min"] <= RATIO_TARGET
    overhead["warm_within_target"] = overhead["warm"]["ratio_min"] <= RATIO_TARGET

    # Profiles: required when the ratio exceeds the target; run anyway (about a minute) so the
    # split of the time between SDV, CTGAN's own transformer and training is always on record.
    triggered = not (overhead["within_target"] and overhead["warm_within_target"])
    print(f"  profiling ({'ratio above target' if triggered else 'for the record'}) ...", flush=True)
    profdir = Path(tempfile.mkdtemp(prefix="bench-generators-prof-"))
    profs = {
        w: _run_child(["--profile", w, str(OVERHEAD_ROWS), str(tmp), str(profdir / f"{w}.prof")])
        for w in ("pipeline", "raw")
    }
    overhead["profile"] = {"triggered_by_ratio": triggered, "profiles_dir": str(profdir), **profs}
    if all("error" not in x for x in profs.values()):
        for phase in ("cold", "warm"):
            b = _breakdown(profs["pipeline"][phase], profs["raw"][phase])
            overhead["profile"][f"breakdown_{phase}"] = b
            print(
                f"  {phase} profile: pipeline {b['pipeline_profiled_total_s']} s, raw {b['raw_profiled_total_s']} s, "
                f"difference {b['difference_s']} s; largest part: {b['dominant']}",
                flush=True,
            )
            for k, v in b["parts_of_difference_s"].items():
                print(f"      {k}: {v} s", flush=True)
    print(f"  profiles (.prof) kept in {profdir}", flush=True)
    return overhead


def _fmt(v, nd=1):
    return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def write_table(doc: dict) -> None:
    grid = doc["grid"]
    by = {(r["generator"], r.get("seed_rows_requested")): r for r in grid}
    lines = [
        "# Generator fit benchmark",
        "",
        f"Machine: {doc['machine']['cpus']} CPUs, Python {doc['machine']['python']}; "
        f"{', '.join(f'{k} {v}' for k, v in doc['versions'].items())}.",
        f"Seed rows: first N fraud rows of the simulator ({doc['data']['rows']} rows, {doc['data']['frauds']} frauds), "
        f"{len(doc['data']['features'])} numerical features; oversamplers also get {LEGIT_PER_SEED}xN legit rows. "
        "Each cell is a fresh subprocess. Time = wall time of `Generator.fit`; memory = peak RSS of the subprocess "
        "(VmHWM = ru_maxrss of the fresh process) at the end of the fit = "
        "after-import baseline + growth during the fit. Columns modelled (constant columns are dropped before "
        "fitting; the earliest fraud rows have no terminal history yet): "
        + ", ".join(
            f"N={n}: "
            + str(
                next(
                    (
                        r.get("modelled_columns")
                        for r in grid
                        if r.get("seed_rows_requested") == n and r.get("modelled_columns")
                    ),
                    "-",
                )
            )
            for n in SIZES
        )
        + ".",
        "",
        "| generator | "
        + " | ".join(f"fit s (N={n})" for n in SIZES)
        + " | "
        + " | ".join(f"peak MiB = baseline + fit (N={n})" for n in SIZES)
        + " |",
        "|---|" + "---:|" * (2 * len(SIZES)),
    ]
    for kind in doc["generators"]:
        cells_t, cells_m = [], []
        for n in SIZES:
            r = by.get((kind, n), {})
            if not r or "error" in r:
                cells_t.append("error")
                cells_m.append("error")
                continue
            cells_t.append(_fmt(r.get("fit_wall_s"), 2))
            cell = f"{_fmt(r.get('peak_mib'), 0)} = {_fmt(r.get('baseline_mib'), 0)} + {_fmt(r.get('fit_mib'), 0)}"
            if r.get("child_processes"):
                cell += f"; with {r['child_processes']} child procs {_fmt(r.get('peak_tree_mib'), 0)}"
            cells_m.append(cell)
        lines.append(f"| {kind} | " + " | ".join(cells_t) + " | " + " | ".join(cells_m) + " |")
    others = [r["cpu_s"]["other_jobs"] for r in grid if "cpu_s" in r]
    if others:
        lines += [
            "",
            f"Contention: CPU seconds other jobs used on the machine during each fit: max {max(others)}, "
            f"total {round(sum(others), 1)} (per cell in generators.json, `cpu_s`).",
        ]
    lines += [
        "",
        "Load average (1 min) at start/end of each cell: "
        + ", ".join(
            f"{r['generator']}@{r.get('seed_rows_requested')} {r['loadavg']['start'][0]}/{r['loadavg']['end'][0]}"
            for r in grid
            if "loadavg" in r
        ),
        "",
    ]
    seq = [r for r in doc.get("joblib_sequential", []) if "error" not in r]
    if seq:
        lines += [
            f"### Neural models at N={max(SIZES)}: joblib default (loky worker processes) vs sequential",
            "",
            "CTGAN's `DataTransformer.transform` (used by ctgan, tvae and copulagan) runs `joblib.Parallel(n_jobs=-1)` "
            "over the columns once the seed set has >= 500 rows, starting loky worker processes that import "
            "their own libraries. The same fit under `joblib.parallel_config(backend='sequential')`:",
            "",
            "| generator | fit s default | fit s sequential | tree peak MiB default | tree peak MiB sequential |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in seq:
            d = by.get((r["generator"], max(SIZES)), {})
            lines.append(
                f"| {r['generator']} | {_fmt(d.get('fit_wall_s'), 2)} | {_fmt(r.get('fit_wall_s'), 2)} | "
                f"{_fmt(d.get('peak_tree_mib'), 0)} | {_fmt(r.get('peak_tree_mib'), 0)} |"
            )
        lines.append("")
    oh = doc["ctgan_overhead"]
    lines += [
        "## CTGAN overhead (pipeline `ctgan` generator vs raw `ctgan.CTGAN`)",
        "",
        f"{oh['seed_rows']} seed rows, epochs {oh['epochs']}, batch_size {oh['batch_size']} (params.yaml "
        f"{oh['batch_size_requested']}, lowered by our generator to fit the seed rows), pac {oh['pac']}, "
        f"torch threads {oh['torch_threads']}; {oh['repeats']} repeats each in fresh subprocesses (interleaved). "
        "cold = first fit in the process (headline), warm = the same fit again in that process.",
        "",
    ]
    if oh.get("cold"):
        lines += ["| fit | pipeline s (each) | raw s (each) | ratio (min) | ratio (mean) |", "|---|---|---|---:|---:|"]
        for phase in ("cold", "warm"):
            ph = oh[phase]
            lines.append(
                f"| {phase} | {', '.join(_fmt(x, 2) for x in ph['pipeline']['each_s'])} | "
                f"{', '.join(_fmt(x, 2) for x in ph['raw']['each_s'])} | {_fmt(ph['ratio_min'], 3)} | "
                f"{_fmt(ph['ratio_mean'], 3)} |"
            )
        lines += [
            "",
            f"Ratio pipeline/raw (cold, min): **{_fmt(oh['ratio_min'], 3)}**; target <= {RATIO_TARGET}: "
            f"{'met' if oh['within_target'] else 'NOT met'} (warm: "
            f"{'met' if oh['warm_within_target'] else 'NOT met'}).",
            "",
        ]
    else:
        lines += ["Overhead runs failed; see generators.json.", ""]
    prof = oh.get("profile") or {}
    for phase in ("cold", "warm"):
        b = prof.get(f"breakdown_{phase}")
        if not b:
            continue
        lines += [
            f"### Profile ({phase} fit, cProfile"
            f"{'' if prof.get('triggered_by_ratio') else '; ratio within target, for the record'})",
            "",
            f"Profiled: pipeline {b['pipeline_profiled_total_s']} s, raw {b['raw_profiled_total_s']} s, "
            f"difference {b['difference_s']} s (pipeline's CTGAN model fit {b['pipeline_model_fit_s']} s; "
            f"DataTransformer pipeline {b['pipeline_datatransformer_s']} s / raw {b['raw_datatransformer_s']} s).",
            "",
            "| part of the difference (pipeline minus raw) | seconds |",
            "|---|---:|",
            *[f"| {k.strip()} | {v} |" for k, v in b["parts_of_difference_s"].items()],
            "",
        ]
    TABLE.write_text("\n".join(lines))


def main() -> None:
    from pipeline.core.files import write_json
    from pipeline.generators import GENERATORS

    tmp = Path(tempfile.mkdtemp(prefix="bench-generators-"))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        print("building seed data (in a subprocess, so this process stays small) ...", flush=True)
        data = _run_child(["--build", str(tmp)], timeout=600)
        if "error" in data:
            raise SystemExit(f"building the seed data failed: {data['error']}")
        print(
            f"  {data['rows']} rows, {data['frauds']} frauds, {len(data['features'])} features ({data['seconds']} s)",
            flush=True,
        )
        grid = []
        for kind in GENERATORS:
            for n in SIZES:
                res = _run_child(["--fit", kind, str(n), str(tmp)])
                res.setdefault("generator", kind)
                res["seed_rows_requested"] = n
                grid.append(res)
                if "error" in res:
                    print(f"{kind:18s} N={n:5d}: ERROR {res['error']}", flush=True)
                else:
                    print(
                        f"{kind:18s} N={n:5d}: fit {res['fit_wall_s']:8.2f} s  peak {res['peak_mib']:7.1f} MiB "
                        f"(baseline {res['baseline_mib']:.1f}, +{res['fit_mib']:.1f}; with child processes "
                        f"{res['peak_tree_mib']:.1f}, {res['child_processes']} children)  "
                        f"other jobs' CPU {res['cpu_s']['other_jobs']} s  "
                        f"load {res['loadavg']['start'][0]}->{res['loadavg']['end'][0]}",
                        flush=True,
                    )

        # CTGAN/TVAE's DataTransformer.transform uses joblib (loky worker processes) from 500 rows on:
        # the same fit at the largest size under joblib's sequential backend shows what that costs.
        extras = []
        for kind in NEURAL:
            res = _run_child(["--fit", kind, str(max(SIZES)), str(tmp), "--sequential"])
            res.setdefault("generator", kind)
            res["seed_rows_requested"] = max(SIZES)
            extras.append(res)
            if "error" in res:
                print(f"{kind:18s} N={max(SIZES):5d} joblib sequential: ERROR {res['error']}", flush=True)
            else:
                print(
                    f"{kind:18s} N={max(SIZES):5d} joblib sequential: fit {res['fit_wall_s']:8.2f} s  "
                    f"tree peak {res['peak_tree_mib']:7.1f} MiB ({res['child_processes']} child processes)  "
                    f"load {res['loadavg']['start'][0]}->{res['loadavg']['end'][0]}",
                    flush=True,
                )

        overhead = run_overhead(tmp)

        doc = {
            "benchmark": "generator fit time / peak memory; CTGAN overhead vs raw ctgan",
            "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "versions": versions(
                ("sdv", "ctgan", "rdt", "torch", "imbalanced-learn", "scikit-learn", "pandas", "numpy")
            ),
            "data": data,
            "sizes": list(SIZES),
            "generators": list(GENERATORS),
            "notes": {
                "time": "fit_wall_s: wall time of Generator.fit in the subprocess (SDV/torch/imblearn imported "
                "before); process_s: the whole subprocess (interpreter start, imports, data load, fit)",
                "memory": "peak_mib: peak RSS (VmHWM) at the end of the fit in a fresh subprocess; "
                "baseline_mib: the same after imports + data load; fit_mib = peak - baseline; "
                "ru_maxrss_mib: getrusage's figure, which after fork+exec also counts the "
                "parent's RSS at fork (kept for reference); peak_tree_mib: largest sum of RSS over "
                "the subprocess and its child processes (polled every 0.1 s) -- CTGAN/TVAE's "
                "DataTransformer.transform starts joblib/loky workers from 500 rows on; child_processes: "
                "most child processes seen",
                "joblib_sequential": "the neural models at the largest size again, fitted under "
                "joblib.parallel_config(backend='sequential')",
                "hyperparameters": "params.yaml's (verbose forced off); copulagan: ctgan's epochs/batch_size; "
                "torch_threads default (1)",
                "loadavg": "os.getloadavg() (1, 5, 15 min) at the start and end of each fit",
                "cpu_s": "this_fit: CPU seconds of the fitting process tree; other_jobs: busy CPU seconds of the "
                "whole machine minus this_fit during the fit (other work competing for the 2 cores); "
                "capacity: wall x cores",
            },
            "grid": grid,
            "joblib_sequential": extras,
            "ctgan_overhead": overhead,
        }
        write_json(RESULTS, doc)
        write_table(doc)
        print(f"wrote {RESULTS.relative_to(ROOT)} and {TABLE.relative_to(ROOT)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "--table-only":  # rewrite generators.md from generators.json
        write_table(json.loads(RESULTS.read_text()))
    elif a and a[0] == "--build":
        print(json.dumps(build_data(Path(a[1])), default=str))
    elif a and a[0] == "--fit":
        print(json.dumps(child_fit(a[1], int(a[2]), Path(a[3]), sequential="--sequential" in a), default=str))
    elif a and a[0] == "--overhead":
        print(json.dumps(child_overhead(a[1], int(a[2]), Path(a[3])), default=str))
    elif a and a[0] == "--profile":
        print(json.dumps(child_profile(a[1], int(a[2]), Path(a[3]), Path(a[4])), default=str))
    else:
        main()
