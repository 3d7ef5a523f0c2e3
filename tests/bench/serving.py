"""Benchmark: request latency and throughput of the served detector (`mlflow models serve --env-manager local`).

Needs a finished `make run` (reads `reports/serving.json`, `data/prepared/` and `models/detectors/`).
Logs the serving model of the registered detector (the best configuration) into a temporary local
MLflow store, registers it, starts `mlflow models serve -m models:/fraud-detector@champion
--env-manager local` on a free 127.0.0.1 port (one uvicorn worker), warms it up, then times:

* single-row requests (`dataframe_split`, one test row each; `REQUESTS_1` requests),
* 1,000-row requests (`REQUESTS_1000` requests of consecutive test rows),
* the same 1,000-row batches scored in-process by `mlflow.pyfunc.load_model(...).predict` (no HTTP),
* MLflow's floor: the same server, signature and requests with a model that answers from a table computed
  beforehand (`_Floor`: no scoring at all), i.e. what `mlflow models serve` itself costs per request,
* a profile, in-process after the server has stopped: where one request's time goes - the scoring server's
  parsing (`_parse_json_data`: JSON, DataFrame, casts to the signature's types), `PyFuncModel.predict` (MLflow's
  signature enforcement + ours), our `Scorer.predict` alone, and the answer's JSON (`predictions_to_json`) - for
  one row and for 1,000 rows (p50 of `PROFILE_REPEATS`).

Latency is client-side wall time per request (JSON encoding excluded, HTTP round trip and JSON decoding
included; `urllib`, a new connection per request, and again over one kept-alive connection): p50 and p99;
throughput is rows per second over all requests of a kind. Run from the
repository root: `.venv/bin/python tests/bench/serving.py` (about two minutes). Results go to
`tests/bench/results/serving.json` and `serving.md`. When `serving_before.json` sits beside them (this script's
results for an earlier version of the code, measured in the same session), `serving.md` sets the two side by side.
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

from mlflow.pyfunc import PythonModel  # noqa: E402

from tests.bench.benchlib import child_env, loadavg, versions  # noqa: E402
from tests.helpers import free_port, wait_for_http  # noqa: E402

REQUESTS_1 = 300
REQUESTS_1000 = 30
PROFILE_REPEATS = 30
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


class _ServerCpu:
    """CPU time the server's processes (`mlflow models serve` and its uvicorn) use, per request: what a request
    costs the server whatever else runs on the machine (wall time on a busy machine also counts waiting)."""

    def __init__(self, pid: int):
        import psutil

        self.procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        self.last = self._total()

    def _total(self) -> float:
        return sum(p.cpu_times().user + p.cpu_times().system for p in self.procs)

    def per_request(self, n: int) -> float:
        now = self._total()
        used, self.last = now - self.last, now
        return round(used / n * 1000, 2) if n else 0.0


class _KeptAlive:
    """One persistent HTTP connection (as a client library's session keeps one): no TCP set-up per request."""

    def __init__(self, port: int):
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, body: bytes) -> float:
        t0 = time.perf_counter()
        self.conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
        json.loads(self.conn.getresponse().read())
        return time.perf_counter() - t0


def _p50(f, repeats: int = PROFILE_REPEATS) -> float:
    import numpy as np

    f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)) * 1000, 2)


def _parts(model, body: bytes) -> dict[str, float]:
    """p50 ms of each part of one served request, in-process (MLflow's private scoring-server functions)."""
    from io import StringIO

    from mlflow.pyfunc.scoring_server import _parse_json_data, predictions_to_json

    schema, scorer = model.metadata.get_input_schema(), model.unwrap_python_model().scorer
    frame = _parse_json_data(body, model.metadata, schema).data
    answer = model.predict(frame)
    part = {
        "parse_json_to_frame_ms": _p50(lambda: _parse_json_data(body, model.metadata, schema)),
        "pyfunc_predict_ms": _p50(lambda: model.predict(frame)),
        "scorer_predict_ms": _p50(lambda: scorer.predict(frame)),
        "answer_to_json_ms": _p50(lambda: predictions_to_json(answer, StringIO())),
    }
    part["mlflow_signature_enforcement_ms"] = round(part["pyfunc_predict_ms"] - part["scorer_predict_ms"], 2)
    return part


def profile(model, bodies: dict[str, bytes]) -> dict[str, dict[str, float]]:
    return {name: _parts(model, body) for name, body in bodies.items()}


def _before_after(after: dict) -> list[str]:
    """Lines comparing this run with `serving_before.json` (an earlier version's run of this script), if present."""
    path = RESULTS / "serving_before.json"
    if not path.exists():
        return []
    before = json.loads(path.read_text())
    rows = [
        ("1 row, p50 (ms)", ("single_row", "p50_ms")),
        ("1,000 rows, rows/s", ("rows_1000", "rows_per_s")),
        ("server CPU per 1-row request (ms)", ("single_row", "server_cpu_ms_per_request")),
        ("server CPU per 1,000-row request (ms)", ("rows_1000", "server_cpu_ms_per_request")),
        ("1 row kept alive, p50 (ms)", ("single_row_kept_alive", "p50_ms")),
        ("1,000 rows kept alive, rows/s", ("rows_1000_kept_alive", "rows_per_s")),
        ("1,000 rows in-process, rows/s", ("in_process_1000", "rows_per_s")),
        ("MLflow's floor, 1 row, p50 (ms)", ("mlflow_floor", "single_row", "p50_ms")),
        ("MLflow's floor, 1,000 rows, rows/s", ("mlflow_floor", "rows_1000", "rows_per_s")),
        (
            "MLflow's floor, server CPU per 1-row request (ms)",
            ("mlflow_floor", "single_row", "server_cpu_ms_per_request"),
        ),
        (
            "MLflow's floor, server CPU per 1,000-row request (ms)",
            ("mlflow_floor", "rows_1000", "server_cpu_ms_per_request"),
        ),
        (
            "MLflow's floor on asyncio + h11 (served at the same time), 1 row, p50 (ms)",
            ("mlflow_floor", "asyncio_h11", "single_row", "p50_ms"),
        ),
        ("uvicorn's event loop, HTTP parser", ("server_stack",)),
        ("Scorer.predict, 1 row (ms)", ("profile_in_process", "1_row", "scorer_predict_ms")),
        ("Scorer.predict, 1,000 rows (ms)", ("profile_in_process", "1000_rows", "scorer_predict_ms")),
        ("load average at start", ("loadavg_start_end", 0)),
    ]

    def get(d, keys):
        for k in keys:
            d = d.get(k) if isinstance(d, dict) else d[k]
            if d is None:
                return "-"
        return ", ".join(map(str, d.values())) if isinstance(d, dict) else d

    return [
        f"Before and after, measured in the same session: before = {before.get('code', 'an earlier version')} "
        "(`serving_before.json`), after = this run.",
        "",
        "| | before | after |",
        "|---|---:|---:|",
        *[f"| {label} | {get(before, keys)} | {get(after, keys)} |" for label, keys in rows],
        "",
    ]


class _Floor(PythonModel):
    """Stands in for the detector to measure what `mlflow models serve` costs by itself: answers each request with a
    table computed beforehand for its number of rows (the real model's answer to the first request of that size), so
    the server parses the JSON, casts and enforces the signature and writes the answer as for the real model."""

    def __init__(self, answers):
        self.answers = answers

    def predict(self, context, model_input, params=None):
        return self.answers[len(model_input)]


def _start(model_uri: str, tracking_uri: str, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """`mlflow models serve -m model_uri --env-manager local` (one worker) on a free port, answering `/ping`."""
    port = free_port()
    env = child_env()
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra_env or {})
    cmd = ["models", "serve", "-m", model_uri, "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), *cmd],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", proc, timeout=180)
    except BaseException:
        _stop(proc)
        raise
    return proc, port


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def _serve_and_time(
    model_uri: str, tracking_uri: str, singles: list[bytes], bodies1000: list[bytes], warmup: list[bytes]
) -> dict:
    """Start the server, warm it up, time the requests (a new connection each, then one kept-alive connection)."""
    t0 = time.perf_counter()
    proc, port = _start(model_uri, tracking_uri)
    out: dict = {"startup": time.perf_counter() - t0}
    try:
        url = f"http://127.0.0.1:{port}/invocations"
        for b in warmup:
            _post(url, b)
        cpu = _ServerCpu(proc.pid)
        out["lat1"] = [_post(url, b) for b in singles]
        out["cpu1"] = cpu.per_request(len(singles))
        out["lat1000"] = [_post(url, b) for b in bodies1000]
        out["cpu1000"] = cpu.per_request(len(bodies1000))
        kept = _KeptAlive(port)
        out["kept1"] = [kept.post(b) for b in singles]
        out["kept1000"] = [kept.post(b) for b in bodies1000]
    finally:
        _stop(proc)
    return out


#: uvicorn's settings (its environment variables) for its pure-Python stack, as before uvloop and httptools were
#: dependencies
PLAIN_STACK = {"UVICORN_LOOP": "asyncio", "UVICORN_HTTP": "h11"}


def _floor_interleaved(
    model_uri: str, tracking_uri: str, singles: list[bytes], bodies1000: list[bytes], warmup: list[bytes]
) -> dict[str, dict]:
    """The floor model served twice at once - on uvicorn's default stack (what `mlflow models serve` runs here) and on
    asyncio + h11 (`PLAIN_STACK`) - each request sent to one then the other, so both see the same machine."""
    stacks: dict[str, dict[str, str]] = {"default": {}, "asyncio_h11": PLAIN_STACK}
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    out: dict[str, dict] = {name: {"lat1": [], "lat1000": []} for name in stacks}
    try:
        for name, extra in stacks.items():
            servers[name] = _start(model_uri, tracking_uri, extra)
        urls = {name: f"http://127.0.0.1:{port}/invocations" for name, (_, port) in servers.items()}
        for b in warmup:
            for url in urls.values():
                _post(url, b)
        cpus = {name: _ServerCpu(proc.pid) for name, (proc, _) in servers.items()}
        for key, bodies in (("1", singles), ("1000", bodies1000)):
            for b in bodies:
                for name, url in urls.items():
                    out[name]["lat" + key].append(_post(url, b))
            for name in stacks:
                out[name]["cpu" + key] = cpus[name].per_request(len(bodies))
    finally:
        for proc, _ in servers.values():
            _stop(proc)
    return out


def _floor_result(measured: dict) -> dict:
    return {
        "single_row": {
            "p50_ms": _pct(measured["lat1"], 50),
            "p99_ms": _pct(measured["lat1"], 99),
            "server_cpu_ms_per_request": measured["cpu1"],
        },
        "rows_1000": {
            "p50_ms": _pct(measured["lat1000"], 50),
            "p99_ms": _pct(measured["lat1000"], 99),
            "rows_per_s": round(1000 * REQUESTS_1000 / sum(measured["lat1000"]), 1),
            "server_cpu_ms_per_request": measured["cpu1000"],
        },
    }


def _server_stack() -> dict[str, str]:
    """What uvicorn runs on here: its event loop and HTTP parser (`auto` picks uvloop and httptools when installed)."""
    import importlib.util

    return {
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }


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
        info = tracking._log_model(
            {
                "model_file": paths.detectors / entry["model"],
                "schema_file": paths.schema,
                "thresholds": entry["thresholds"],
                "example": example,
            },
            "best",
        )
    version = mlflow.register_model(info["model_uri"], "fraud-detector").version
    mlflow.MlflowClient().set_registered_model_alias("fraud-detector", "champion", version)

    def body(rows):
        return json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()

    singles = [body(test.iloc[i : i + 1]) for i in range(REQUESTS_1)]
    batches = [test.iloc[i * 1000 : (i + 1) * 1000] for i in range(REQUESTS_1000)]
    bodies1000 = [body(b) for b in batches]
    load0 = loadavg()
    served = _serve_and_time("models:/fraud-detector@champion", uri, singles, bodies1000, warmup=singles[:10])
    model = mlflow.pyfunc.load_model("models:/fraud-detector@champion")
    inproc = []
    for b in batches:
        t = time.perf_counter()
        model.predict(b)
        inproc.append(time.perf_counter() - t)
    # MLflow's floor: the same signature and server, a model that answers from a table computed beforehand
    scorer = model.unwrap_python_model().scorer
    with mlflow.start_run(experiment_id=exp):
        floor_info = mlflow.pyfunc.log_model(
            name="floor",
            python_model=_Floor({1: scorer.predict(test.iloc[:1]), 1000: scorer.predict(batches[0])}),
            signature=tracking.serving_signature(schema),
            pip_requirements=[f"mlflow=={mlflow.__version__}"],
        )
    floors = _floor_interleaved(floor_info.model_uri, uri, singles, bodies1000, warmup=singles[:10])
    load1 = loadavg()
    lat1, cpu1, lat1000, cpu1000 = served["lat1"], served["cpu1"], served["lat1000"], served["cpu1000"]
    kept1, kept1000, startup = served["kept1"], served["kept1000"], served["startup"]
    parts = profile(model, {"1_row": singles[0], "1000_rows": body(batches[0])})

    res = {
        "benchmark": "mlflow models serve --env-manager local, one uvicorn worker, 127.0.0.1; client-side latency",
        "model": {
            "config": entry["config"],
            "features": len(schema.features),
            "reasons": entry["thresholds"]["reasons"],
        },
        "server_startup_s": round(startup, 2),
        "single_row": {
            "requests": REQUESTS_1,
            "p50_ms": _pct(lat1, 50),
            "p99_ms": _pct(lat1, 99),
            "rows_per_s": round(REQUESTS_1 / sum(lat1), 1),
            "server_cpu_ms_per_request": cpu1,
        },
        "rows_1000": {
            "requests": REQUESTS_1000,
            "p50_ms": _pct(lat1000, 50),
            "p99_ms": _pct(lat1000, 99),
            "rows_per_s": round(1000 * REQUESTS_1000 / sum(lat1000), 1),
            "server_cpu_ms_per_request": cpu1000,
            "rows_per_server_cpu_s": round(1000 / (cpu1000 / 1000), 1) if cpu1000 else None,
        },
        "single_row_kept_alive": {
            "requests": REQUESTS_1,
            "p50_ms": _pct(kept1, 50),
            "p99_ms": _pct(kept1, 99),
            "rows_per_s": round(REQUESTS_1 / sum(kept1), 1),
        },
        "rows_1000_kept_alive": {
            "requests": REQUESTS_1000,
            "p50_ms": _pct(kept1000, 50),
            "p99_ms": _pct(kept1000, 99),
            "rows_per_s": round(1000 * REQUESTS_1000 / sum(kept1000), 1),
        },
        "in_process_1000": {
            "p50_ms": _pct(inproc, 50),
            "p99_ms": _pct(inproc, 99),
            "rows_per_s": round(1000 * REQUESTS_1000 / sum(inproc), 1),
        },
        "mlflow_floor": {
            "what": "the same server and signature, a model answering from a table computed beforehand (no scoring)",
            **_floor_result(floors["default"]),
            "asyncio_h11": _floor_result(floors["asyncio_h11"]),
        },
        "server_stack": _server_stack(),
        "profile_in_process": parts,
        "loadavg_start_end": [load0, load1],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "versions": versions(("mlflow", "xgboost-cpu", "pandas", "uvicorn")),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "serving.json", res)
    s1, s1000, ip, fl = res["single_row"], res["rows_1000"], res["in_process_1000"], res["mlflow_floor"]
    fp = fl["asyncio_h11"]
    write_text(
        RESULTS / "serving.md",
        "\n".join(
            [
                "# Served detector: latency and throughput",
                "",
                f"`mlflow models serve --env-manager local` (one worker) on this machine ({os.cpu_count()} cores); "
                f"model {entry['config']}, {len(schema.features)} features, score + decision + "
                f"{entry['thresholds']['reasons']} reasons per row; server start {res['server_startup_s']} s.",
                "",
                "| request | requests | p50 | p99 | rows/s |",
                "|---|---:|---:|---:|---:|",
                f"| 1 row | {s1['requests']} | {s1['p50_ms']} ms | {s1['p99_ms']} ms | {s1['rows_per_s']} |",
                f"| 1,000 rows | {s1000['requests']} | {s1000['p50_ms']} ms | {s1000['p99_ms']} ms | {s1000['rows_per_s']} |",
                *[
                    f"| {label}, one kept-alive connection | {k['requests']} | {k['p50_ms']} ms | {k['p99_ms']} ms | "
                    f"{k['rows_per_s']} |"
                    for label, k in (
                        ("1 row", res["single_row_kept_alive"]),
                        ("1,000 rows", res["rows_1000_kept_alive"]),
                    )
                ],
                f"| 1,000 rows in-process (no HTTP) | {s1000['requests']} | {ip['p50_ms']} ms | {ip['p99_ms']} ms | "
                f"{ip['rows_per_s']} |",
                f"| MLflow's floor: 1 row | {s1['requests']} | {fl['single_row']['p50_ms']} ms | "
                f"{fl['single_row']['p99_ms']} ms | |",
                f"| MLflow's floor: 1,000 rows | {s1000['requests']} | {fl['rows_1000']['p50_ms']} ms | "
                f"{fl['rows_1000']['p99_ms']} ms | {fl['rows_1000']['rows_per_s']} |",
                "",
                "MLflow's floor: the same `mlflow models serve`, signature and requests, with a model that answers "
                "from a table computed beforehand (no scoring at all): what the stock server costs before our code "
                f"runs (server CPU per request: 1 row {fl['single_row']['server_cpu_ms_per_request']} ms, 1,000 rows "
                f"{fl['rows_1000']['server_cpu_ms_per_request']} ms). uvicorn runs on {res['server_stack']['loop']} "
                f"with {res['server_stack']['http']}; the same floor served at the same time on asyncio with h11 "
                "(uvicorn's pure-Python stack, `PLAIN_STACK`; each request went to one server then the other): 1 row "
                f"p50 {fp['single_row']['p50_ms']} ms (server CPU {fp['single_row']['server_cpu_ms_per_request']} ms), "
                f"1,000 rows {fp['rows_1000']['rows_per_s']} rows/s (server CPU "
                f"{fp['rows_1000']['server_cpu_ms_per_request']} ms).",
                "",
                f"Load average (1, 5, 15 min) at start {load0}, at end {load1}. CPU time the server used per request "
                f"(user + system, its processes): 1 row {s1['server_cpu_ms_per_request']} ms, 1,000 rows "
                f"{s1000['server_cpu_ms_per_request']} ms ({s1000['rows_per_server_cpu_s']} rows per server CPU second: the "
                "throughput bound of one worker on an idle core).",
                "",
                "Where a request's time goes (in-process, p50 ms, after the server stopped; `PyFuncModel.predict` includes "
                "MLflow's signature enforcement and our `Scorer.predict`):",
                "",
                "| part | 1 row | 1,000 rows |",
                "|---|---:|---:|",
                *[
                    f"| {label} | {parts['1_row'][key]} | {parts['1000_rows'][key]} |"
                    for label, key in (
                        ("server: JSON -> DataFrame, casts to signature types", "parse_json_to_frame_ms"),
                        ("MLflow pyfunc: signature enforcement, wrappers", "mlflow_signature_enforcement_ms"),
                        ("our Scorer.predict", "scorer_predict_ms"),
                        ("server: answer -> JSON", "answer_to_json_ms"),
                    )
                ],
                "",
                *_before_after(res),
            ]
        ),
    )
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
