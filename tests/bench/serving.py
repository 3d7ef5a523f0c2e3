"""Benchmark: request latency and throughput of the served detector (`mlflow models serve --env-manager local`).

Needs a finished `make run` (reads `reports/serving.json`, `data/prepared/` and `models/detectors/`).
Logs the serving model of the registered detector (the best configuration) into a temporary local
MLflow store, registers it, starts `mlflow models serve -m models:/fraud-detector@champion
--env-manager local` on a free 127.0.0.1 port (one uvicorn worker), warms it up, then times:

* single-row requests (`dataframe_split`, one test row each; `REQUESTS_1` requests),
* 1,000-row requests (`REQUESTS_1000` requests of consecutive test rows),
* the same 1,000-row batches scored in-process by `mlflow.pyfunc.load_model(...).predict` (no HTTP).

Latency is client-side wall time per request (JSON encoding excluded, HTTP round trip and JSON decoding
included): p50 and p99; throughput is rows per second over all requests of a kind. Run from the
repository root: `.venv/bin/python tests/bench/serving.py` (about a minute). Results go to
`tests/bench/results/serving.json` and `serving.md`.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]  # no shadowing
sys.path.insert(0, str(ROOT))

from tests.bench.benchlib import child_env, loadavg, versions  # noqa: E402
from tests.helpers import free_port, wait_for_http  # noqa: E402

REQUESTS_1 = 300
REQUESTS_1000 = 30
RESULTS = ROOT / "tests" / "bench" / "results"


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return round(float(np.percentile(values, q)) * 1000, 2)


def _post(url: str, body: bytes) -> float:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        json.loads(r.read())
    return time.perf_counter() - t0


def main() -> None:
    import mlflow
    import pandas as pd

    from pipeline.core.files import read_json, write_json, write_text
    from pipeline.core.paths import Paths
    from pipeline.core.schema import Schema
    from pipeline.ops import tracking
    from pipeline.ops.serving import serving_frame

    paths = Paths.at(ROOT)
    if not paths.serving.exists():
        raise SystemExit("run `make run` first: reports/serving.json is missing")
    schema = Schema.load(paths.schema)
    entry = read_json(paths.serving)["best"]
    test = serving_frame(schema, pd.read_parquet(paths.split("test")))
    example = test.head(5)
    tmp = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("serving-bench", artifact_location=(tmp / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=exp):
        info = tracking._log_model({"model_file": paths.detectors / entry["model"], "schema_file": paths.schema,
                                    "thresholds": entry["thresholds"], "example": example}, "best")
    version = mlflow.register_model(info["model_uri"], "fraud-detector").version
    mlflow.MlflowClient().set_registered_model_alias("fraud-detector", "champion", version)

    port = free_port()
    env = child_env()
    env["MLFLOW_TRACKING_URI"] = uri
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
                             "models:/fraud-detector@champion", "--env-manager", "local", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        startup = wait_for_http(base + "/ping", proc, timeout=180)

        def body(rows):
            return json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()

        url = base + "/invocations"
        for i in range(10):  # warm-up
            _post(url, body(test.iloc[i:i + 1]))
        load0 = loadavg()
        singles = [body(test.iloc[i:i + 1]) for i in range(REQUESTS_1)]
        lat1 = [_post(url, b) for b in singles]
        batches = [test.iloc[i * 1000:(i + 1) * 1000] for i in range(REQUESTS_1000)]
        lat1000 = [_post(url, body(b)) for b in batches]
        model = mlflow.pyfunc.load_model("models:/fraud-detector@champion")
        inproc = []
        for b in batches:
            t = time.perf_counter()
            model.predict(b)
            inproc.append(time.perf_counter() - t)
        load1 = loadavg()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    res = {
        "benchmark": "mlflow models serve --env-manager local, one uvicorn worker, 127.0.0.1; client-side latency",
        "model": {"config": entry["config"], "features": len(schema.features),
                  "reasons": entry["thresholds"]["reasons"]},
        "server_startup_s": round(startup, 2),
        "single_row": {"requests": REQUESTS_1, "p50_ms": _pct(lat1, 50), "p99_ms": _pct(lat1, 99),
                       "rows_per_s": round(REQUESTS_1 / sum(lat1), 1)},
        "rows_1000": {"requests": REQUESTS_1000, "p50_ms": _pct(lat1000, 50), "p99_ms": _pct(lat1000, 99),
                      "rows_per_s": round(1000 * REQUESTS_1000 / sum(lat1000), 1)},
        "in_process_1000": {"p50_ms": _pct(inproc, 50), "p99_ms": _pct(inproc, 99),
                            "rows_per_s": round(1000 * REQUESTS_1000 / sum(inproc), 1)},
        "loadavg_start_end": [load0, load1],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "versions": versions(("mlflow", "xgboost-cpu", "pandas", "uvicorn")),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "serving.json", res)
    s1, s1000, ip = res["single_row"], res["rows_1000"], res["in_process_1000"]
    write_text(RESULTS / "serving.md", "\n".join([
        "# Served detector: latency and throughput", "",
        f"`mlflow models serve --env-manager local` (one worker) on this machine ({os.cpu_count()} cores); "
        f"model {entry['config']}, {len(schema.features)} features, score + decision + "
        f"{entry['thresholds']['reasons']} reasons per row; server start {res['server_startup_s']} s.", "",
        "| request | requests | p50 | p99 | rows/s |", "|---|---:|---:|---:|---:|",
        f"| 1 row | {s1['requests']} | {s1['p50_ms']} ms | {s1['p99_ms']} ms | {s1['rows_per_s']} |",
        f"| 1,000 rows | {s1000['requests']} | {s1000['p50_ms']} ms | {s1000['p99_ms']} ms | {s1000['rows_per_s']} |",
        f"| 1,000 rows in-process (no HTTP) | {s1000['requests']} | {ip['p50_ms']} ms | {ip['p99_ms']} ms | "
        f"{ip['rows_per_s']} |", ""]))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
