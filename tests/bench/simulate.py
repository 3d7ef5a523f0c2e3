"""Benchmark: the data step at about 100k and 1M transactions.

Measures, per size, in ONE fresh subprocess per size:

1. ``simulate_transactions`` + ``add_transaction_features`` on their own (wall time; peak memory
   as ``ru_maxrss`` of the subprocess, which includes the after-imports baseline);
2. the whole PREPARE stage, ``pipeline.stages.prepare.run(params, Paths.at(tmpdir))``: load the
   source (simulate + features + column roles), split, infer the schema, conform the three parts
   and write ``train/valid/test.parquet``, ``schema.json`` and ``profile.json`` into a temporary
   folder. ``params`` is ``params.yaml`` with ``data.simulate.n_customers / n_terminals / n_days``
   set to the size below (the rest of ``data.simulate`` -- day_offset, seed, ... -- and the split
   come from ``params.yaml``). Wall time is split into load_source / split_table / infer_schema /
   conform+profile / writing by wrapping those functions. Peak memory of the prepare step is the
   kernel's high-water mark (VmHWM) after resetting it (``/proc/self/clear_refs`` = 5) once the
   frames of step 1 are freed, so step 1 does not pollute it; the RSS at the reset is reported.

``os.getloadavg()`` is recorded at the start and end of each measurement, and the CPU seconds
other jobs used on the machine meanwhile (``cpu_s``; another job may be running on this 2-core
machine). Run from the repository root:
``.venv/bin/python tests/bench/simulate.py``. Results go to ``tests/bench/results/simulate.json``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.benchlib import child_env, loadavg  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "simulate.json"

SIZES = {
    "100k": dict(n_customers=1_000, n_terminals=2_000, n_days=50),
    "1M": dict(n_customers=10_000, n_terminals=20_000, n_days=50),
}


def _cpu_marks() -> tuple[float, float, float] | None:
    """(wall, machine-wide busy CPU s, this process's CPU s) for the other-jobs CPU figure."""
    try:
        import psutil
    except ImportError:
        return None
    t = psutil.cpu_times()
    me = psutil.Process().cpu_times()
    return time.perf_counter(), sum(t) - t.idle - getattr(t, "iowait", 0.0), me.user + me.system


def _cpu_since(mark) -> dict | None:
    """CPU seconds of this process and of other jobs on the machine since `mark` (contention)."""
    now = _cpu_marks()
    if mark is None or now is None:
        return None
    own = now[2] - mark[2]
    return {
        "this_step": round(own, 2),
        "other_jobs": round(max(now[1] - mark[1] - own, 0.0), 2),
        "capacity": round((now[0] - mark[0]) * (os.cpu_count() or 1), 2),
    }


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _status_mib(field: str) -> float | None:
    try:
        m = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(m.group(1)) / 1024 if m else None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class _Timer:
    """Wrap a module-level function so each call's wall time is added up under a name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, module, attr: str, name: str) -> None:
        fn = getattr(module, attr)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

        setattr(module, attr, timed)


def _simulate_features(kwargs: dict) -> dict:
    from pipeline.config.params import defaults
    from pipeline.data.features import add_transaction_features
    from pipeline.data.simulate import simulate_transactions

    d = defaults()["data"]
    load_start = loadavg()
    mark = _cpu_marks()
    t0 = time.perf_counter()
    tx = simulate_transactions(**{**d["simulate"], **kwargs})
    t1 = time.perf_counter()
    peak_sim = _peak_mib()
    feats = add_transaction_features(tx, **d["features"])
    t2 = time.perf_counter()
    peak_all = _peak_mib()
    res = {
        "args": kwargs,
        "rows": int(len(tx)),
        "frauds": int(tx["is_fraud"].sum()),
        "fraud_rate": float(tx["is_fraud"].mean()),
        "frauds_by_scenario": {str(k): int(v) for k, v in tx["fraud_scenario"].value_counts().sort_index().items()},
        "feature_columns": int(feats.shape[1]),
        "seconds": {"simulate": round(t1 - t0, 3), "features": round(t2 - t1, 3), "total": round(t2 - t0, 3)},
        "peak_mib": {"after_simulate": round(peak_sim, 1), "after_features": round(peak_all, 1)},
        "frame_mib": {
            "transactions": round(tx.memory_usage(deep=True).sum() / 2**20, 1),
            "features": round(feats.memory_usage(deep=True).sum() / 2**20, 1),
        },
        "loadavg": {"start": load_start, "end": loadavg()},
        "cpu_s": _cpu_since(mark),
    }
    del tx, feats
    return res


def _prepare(kwargs: dict) -> dict:
    import gc

    import pipeline.data.prepare as prep_mod
    import pipeline.stages.prepare as stage
    from pipeline.config.params import load_params
    from pipeline.core.paths import Paths

    overrides = {f"data.simulate.{k}": v for k, v in kwargs.items()}
    params = load_params(ROOT / "params.yaml", overrides=overrides)
    timer = _Timer()
    timer.wrap(stage, "prepare_data", "prepare_data")
    timer.wrap(prep_mod, "load_source", "load_source")
    timer.wrap(prep_mod, "split_table", "split_table")
    timer.wrap(prep_mod, "infer_schema", "infer_schema")

    gc.collect()
    reset = _reset_peak()
    rss_start = _status_mib("VmRSS")
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        paths = Paths.at(tmp)
        load_start = loadavg()
        mark = _cpu_marks()
        t0 = time.perf_counter()
        prof = stage.run(params, paths)
        total = time.perf_counter() - t0
        load_end = loadavg()
        hwm = _status_mib("VmHWM") if reset else None
        ru_peak = _peak_mib()
        files = {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(paths.prepared.iterdir())}
        expected = {"train.parquet", "valid.parquet", "test.parquet", "schema.json", "profile.json"}
        missing = sorted(expected - set(files))
    s = timer.seconds
    sub = s["load_source"] + s["split_table"] + s["infer_schema"]
    return {
        "params_simulate": params["data"]["simulate"],
        "rows_total": prof["rows_total"],
        "frauds_total": prof["frauds_total"],
        "features": prof["features"],
        "parts": {n: {"rows": prof[n]["rows"], "frauds": prof[n]["frauds"]} for n in ("train", "valid", "test")},
        "seconds": {
            "load_source (simulate+features+roles)": round(s["load_source"], 3),
            "split_table": round(s["split_table"], 3),
            "infer_schema": round(s["infer_schema"], 3),
            "conform+concat+profile": round(s["prepare_data"] - sub, 3),
            "prepare_data": round(s["prepare_data"], 3),
            "write (3 parquet + 2 json)": round(total - s["prepare_data"], 3),
            "total": round(total, 3),
        },
        "peak_mib": {
            "rss_at_start": round(rss_start, 1) if rss_start is not None else None,
            "peak_during_prepare": round(hwm, 1) if hwm is not None else None,
            "peak_minus_start": round(hwm - rss_start, 1) if hwm is not None and rss_start is not None else None,
            "ru_maxrss_after": round(ru_peak, 1),
            "method": "VmHWM after /proc/self/clear_refs reset"
            if reset
            else "reset unavailable: ru_maxrss (includes step 1's peak)",
        },
        "output_mib": files,
        "missing_outputs": missing,
        "loadavg": {"start": load_start, "end": load_end},
        "cpu_s": _cpu_since(mark),
    }


def run_one(name: str) -> dict:
    sys.path.insert(0, str(ROOT))
    import pandas as pd  # noqa: F401  (imports count in the baseline, not in the steps)
    import pyarrow.parquet  # noqa: F401  (used when the parquet files are written)

    import pipeline.data.features  # noqa: F401
    import pipeline.data.simulate  # noqa: F401
    import pipeline.stages.prepare  # noqa: F401
    from pipeline.config.params import load_params

    load_params(ROOT / "params.yaml")  # imports the registry (light) once
    kwargs = SIZES[name]
    baseline = _peak_mib()
    sim = _simulate_features(kwargs)
    sim["peak_mib"] = {"after_imports": round(baseline, 1), **sim["peak_mib"]}
    prep = _prepare(kwargs)
    return {"size": name, **sim, "prepare": prep}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2])))
        return
    results = []
    for name in SIZES:
        out = subprocess.run(
            [sys.executable, __file__, "--one", name], capture_output=True, text=True, cwd=ROOT, env=child_env()
        )
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit(f"size {name} failed (exit {out.returncode})")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        p = res["prepare"]
        print(
            f"{name}: {res['rows']} rows, fraud rate {res['fraud_rate']:.3%}, "
            f"simulate {res['seconds']['simulate']} s, features {res['seconds']['features']} s, "
            f"peak {res['peak_mib']['after_features']} MiB | prepare {p['rows_total']} rows: "
            f"{p['seconds']['total']} s (write {p['seconds']['write (3 parquet + 2 json)']} s), "
            f"peak {p['peak_mib']['peak_during_prepare']} MiB (from {p['peak_mib']['rss_at_start']} MiB); "
            f"load {res['loadavg']['start']} -> {p['loadavg']['end']}; other jobs' CPU "
            f"{(res['cpu_s'] or {}).get('other_jobs')} / {(p['cpu_s'] or {}).get('other_jobs')} s"
        )
        results.append(res)
    sys.path.insert(0, str(ROOT))
    from pipeline.core.files import write_json

    write_json(
        RESULTS,
        {
            "benchmark": "simulate_transactions + add_transaction_features; whole prepare stage",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "peak_mib_note": (
                "simulate/features: ru_maxrss of a fresh subprocess per size (includes the after_imports "
                "baseline). prepare: same subprocess, after freeing step 1's frames and resetting the kernel's "
                "peak-RSS counter; peak_during_prepare includes rss_at_start (imports + leftovers)"
            ),
            "prepare_note": (
                "pipeline.stages.prepare.run(params, Paths.at(tmpdir)) with params.yaml and data.simulate "
                "n_customers/n_terminals/n_days overridden by args; day_offset etc. from params.yaml; the "
                "simulate step uses the params spec's defaults (config.params.defaults) with the same overrides"
            ),
            "loadavg_note": "os.getloadavg() (1, 5, 15 min) at the start and end of each measurement",
            "cpu_s_note": "CPU seconds during each measurement: this_step (this process), other_jobs (machine-wide "
            "busy CPU minus this_step: other work on the shared 2 cores), capacity (wall x cores)",
            "results": results,
        },
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
