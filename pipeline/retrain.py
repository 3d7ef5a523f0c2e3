"""Scheduled retraining: rerun the pipeline on new data, promote only a better detector.

Steps (`python -m pipeline retrain`, `make retrain`):
1. take an exclusive lock (a second concurrent retrain exits at once, exit code 3);
2. bring the data up to date: for the built-in simulator, move `data.simulate.day_offset`
   forward by `retrain.advance_days` (a retry after a failed attempt reuses that attempt's
   target, so a crash never skips a window); for a file source, re-read the file as it is now;
3. run the DVC pipeline (`dvc repro`), which publishes a new `challenger` to the registry;
4. score the `champion` and the `challenger` on the SAME new validation/test rows (threshold
   at the headline alert budget from the validation rows, recall on the test rows);
5. promote the challenger to `champion` only if its headline recall beats the champion's by
   more than `retrain.margin` (absolute); older versions stay in the registry;
6. append one JSON line to the audit log: time, data fingerprint, both scores, decision, run
   ids and drift (population stability index per feature and fraud-rate change against the
   data the champion was trained on).

Any failure leaves the champion alias where it was (promotion is the very last step), releases
the lock (an OS file lock: a killed process releases it too) and writes a `failed` audit line.
A retrain killed before it could write its line is recorded by the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from pipeline.config import Paths, load_params
from pipeline.errors import DataError, LockError, PipelineError
from pipeline.io import atomic_path, read_json, write_json

PSI_DRIFT = 0.2  # a feature with PSI above this has moved materially
REFERENCE = "champion_reference.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise LockError(f"another retrain holds {path} ({holder}); wait for it to finish - the lock is released "
                        "when that process ends") from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {_now()}")
        fh.flush()
        yield
    finally:
        fh.seek(0)
        fh.truncate()
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def append_audit(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_audit(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


# ----------------------------------------------------------------------------------------
# Data window
# ----------------------------------------------------------------------------------------
def target_offset(params_path: Path, audit: list[dict], advance_days: int) -> int | None:
    params = load_params(params_path)
    if params["data"]["source"] != "simulated":
        return None
    current = int(params["data"]["simulate"]["day_offset"])
    last = audit[-1] if audit else None
    if last and last.get("status") in ("failed", "started") and last.get("day_offset") is not None:
        return int(last["day_offset"])  # retry the same window the failed attempt aimed at
    return current + advance_days


def set_offset(params_path: Path, offset: int) -> None:
    """Rewrite data.simulate.day_offset in params.yaml in place, keeping comments."""
    text = params_path.read_text()
    lines = text.splitlines(keepends=True)
    in_sim = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("simulate:"):
            in_sim = True
        elif in_sim and stripped.startswith("day_offset:"):
            indent = line[: len(line) - len(line.lstrip())]
            comment = line[line.index("#"):].rstrip("\n") if "#" in line else ""
            lines[i] = f"{indent}day_offset: {offset}" + (f"           {comment}" if comment else "") + "\n"
            break
    else:
        raise DataError(f"{params_path}: no data.simulate.day_offset to move forward; add it or use --no-advance")
    with atomic_path(params_path) as tmp:
        tmp.write_text("".join(lines))


# ----------------------------------------------------------------------------------------
# Scoring and drift
# ----------------------------------------------------------------------------------------
def headline_recall(model: Any, valid: pd.DataFrame, test: pd.DataFrame, schema, budget: float) -> float:
    from pipeline.detector import predict_scores
    from pipeline.metrics import recall_at_threshold, threshold_at_fpr

    sv = predict_scores(model, schema.to_model_frame(valid))
    st = predict_scores(model, schema.to_model_frame(test))
    yv, yt = valid[schema.label].to_numpy(), test[schema.label].to_numpy()
    t = threshold_at_fpr(sv[yv == 0], budget)
    return float(recall_at_threshold(yt, st, t))


def reference_profile(train: pd.DataFrame, schema, bins: int = 10) -> dict[str, Any]:
    prof: dict[str, Any] = {"fraud_rate": float(train[schema.label].mean()), "rows": len(train), "features": {}}
    for f in schema.features:
        col = train[f.name]
        if f.is_categorical:
            share = col.astype(str).value_counts(normalize=True)
            prof["features"][f.name] = {"type": "categorical", "shares": share.round(6).to_dict()}
        else:
            vals = pd.to_numeric(col, errors="coerce").dropna().to_numpy(float)
            edges = np.unique(np.quantile(vals, np.linspace(0, 1, bins + 1))) if len(vals) else np.array([0.0])
            inner = edges[1:-1].tolist()
            counts = np.bincount(np.searchsorted(inner, vals, side="right"), minlength=len(inner) + 1)
            prof["features"][f.name] = {"type": "numerical", "edges": inner,
                                        "shares": (counts / max(len(vals), 1)).round(6).tolist()}
    return prof


def _psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    e = np.clip(np.asarray(expected, float), eps, None)
    a = np.clip(np.asarray(actual, float), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift(reference: dict[str, Any] | None, train: pd.DataFrame, schema) -> dict[str, Any]:
    if not reference:
        return {"available": False, "reason": "no reference profile of the champion's training data"}
    now = reference_profile(train, schema)
    psi = {}
    for name, ref in reference["features"].items():
        if name not in now["features"]:
            continue
        if ref["type"] == "numerical":
            vals = pd.to_numeric(train[name], errors="coerce").dropna().to_numpy(float)
            counts = np.bincount(np.searchsorted(ref["edges"], vals, side="right"), minlength=len(ref["edges"]) + 1)
            psi[name] = round(_psi(ref["shares"], counts / max(len(vals), 1)), 6)
        else:
            cats = sorted(set(ref["shares"]) | set(now["features"][name]["shares"]))
            psi[name] = round(_psi([ref["shares"].get(c, 0.0) for c in cats],
                                   [now["features"][name]["shares"].get(c, 0.0) for c in cats]), 6)
    worst = max(psi.items(), key=lambda kv: kv[1]) if psi else (None, 0.0)
    return {"available": True, "fraud_rate_reference": reference["fraud_rate"], "fraud_rate_now": now["fraud_rate"],
            "fraud_rate_change": round(now["fraud_rate"] - reference["fraud_rate"], 6), "psi": psi,
            "max_psi": worst[1], "max_psi_feature": worst[0],
            "drifted_features": sorted(k for k, v in psi.items() if v > PSI_DRIFT)}


# ----------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------
def _dvc(paths: Paths, args: list[str]) -> None:
    """Run dvc; if the retrain is interrupted (SIGTERM, Ctrl-C, any error), dvc and the stage it runs are killed.

    dvc stays in the retrain's process group, so a signal to the whole group (Ctrl-C, systemd stop,
    `kill -- -PGID`) reaches every process at once."""
    venv_dvc = Path(sys.executable).parent / "dvc"
    exe = str(venv_dvc) if venv_dvc.exists() else (shutil.which("dvc") or "dvc")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DVC_NO_ANALYTICS", "1")
    proc = subprocess.Popen([exe, *args], cwd=paths.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    try:
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
        proc.wait()
    except BaseException:
        _kill_tree(proc.pid)
        proc.wait()
        raise
    output = "".join(lines)
    if proc.returncode != 0:
        tail = [ln for ln in output.strip().splitlines() if ln.strip()]
        err = next((ln for ln in reversed(tail) if "error" in ln.lower()), tail[-1] if tail else "")
        raise PipelineError(f"`dvc {' '.join(args)}` failed (exit {proc.returncode}): {err.strip()[:300]}")


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True) + [root]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def run(paths: Paths, params_file: str | None = None, advance: bool = True) -> int:
    params_path = Path(params_file) if params_file else paths.params
    params = load_params(params_path)
    rt = params["retrain"]
    audit_path = paths.root / rt["audit_log"]
    lock_path = paths.root / rt["lock_file"]
    with exclusive_lock(lock_path):
        return _run_locked(paths, params_path, params, audit_path, advance)


def _on_term(signum, frame):  # pragma: no cover - exercised by the kill test
    raise PipelineError(f"retrain stopped by signal {signum}")


def _run_locked(paths: Paths, params_path: Path, params: dict, audit_path: Path, advance: bool) -> int:
    from pipeline import tracking

    rt = params["retrain"]
    started = time.perf_counter()
    audit = read_audit(audit_path)
    if audit and audit[-1].get("status") == "started":
        prev = audit[-1]
        append_audit(audit_path, {**prev, "status": "failed", "time_recorded": _now(),
                                  "error": "the previous retrain ended without finishing (killed?)"})
        audit = read_audit(audit_path)
    offset = target_offset(params_path, audit, rt["advance_days"]) if advance else None
    record: dict[str, Any] = {"time": _now(), "status": "started", "pid": os.getpid(), "day_offset": offset,
                              "source": params["data"]["source"]}
    append_audit(audit_path, record)
    old = signal.signal(signal.SIGTERM, _on_term)
    try:
        if offset is not None:
            set_offset(params_path, offset)
            params = load_params(params_path)
        if params["data"]["source"] != "simulated":
            _dvc(paths, ["repro", "--force", "--single-item", "prepare"])
        _dvc(paths, ["repro"])
        result = _decide(paths, params)
        record.update(result)
        record.update({"status": "ok", "seconds": round(time.perf_counter() - started, 1), "time_end": _now()})
        try:
            tracking.log_retrain(paths.root, params["tracking"]["experiment"], record, record.get("parent_run_id"))
        except PipelineError as e:
            record["mlflow_note"] = f"decision not attached to MLflow: {e}"
        append_audit(audit_path, record)
        print(f"retrain: {record['decision']} (champion v{record.get('champion_version')} "
              f"{_fmt(record.get('champion_score'))}, challenger v{record.get('challenger_version')} "
              f"{_fmt(record.get('challenger_score'))}); audit: {audit_path}")
        return 0
    except BaseException as e:
        record.update({"status": "failed", "error": str(e) or type(e).__name__, "time_end": _now(),
                       "seconds": round(time.perf_counter() - started, 1)})
        append_audit(audit_path, record)
        raise
    finally:
        signal.signal(signal.SIGTERM, old)


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _decide(paths: Paths, params: dict) -> dict[str, Any]:
    from pipeline import tracking
    from pipeline.schema import Schema
    from pipeline.tracking import file_fingerprint

    name = params["tracking"]["model_name"]
    budget = params["evaluate"]["fpr_budgets"][0]
    margin = params["retrain"]["margin"]
    schema = Schema.load(paths.schema)
    train = pd.read_parquet(paths.split("train"))
    valid = pd.read_parquet(paths.split("valid"))
    test = pd.read_parquet(paths.split("test"))
    pub = read_json(paths.mlflow_report) if paths.mlflow_report.exists() else {}
    out: dict[str, Any] = {
        "data_fingerprint": file_fingerprint([paths.split(n) for n in ("train", "valid", "test")]),
        "parent_run_id": pub.get("parent_run_id"), "best_config": pub.get("best_config"),
        "margin": margin, "headline_budget": budget,
    }
    ref_path = paths.root / Path(params["retrain"]["audit_log"]).parent / REFERENCE
    reference = read_json(ref_path) if ref_path.exists() else None
    out["drift"] = drift(reference, train, schema)

    champ_v = tracking.alias_version(paths.root, name, tracking.CHAMPION)
    chall_v = tracking.alias_version(paths.root, name, tracking.CHALLENGER)
    out["champion_version"], out["challenger_version"] = champ_v, chall_v
    if chall_v is None:
        raise PipelineError(f"registered model {name!r} has no challenger; the publish stage did not register one")
    challenger = tracking.load_registered(paths.root, name, tracking.CHALLENGER)
    out["challenger_score"] = headline_recall(challenger, valid, test, schema, budget)
    if champ_v is None or champ_v == chall_v:
        out["champion_score"] = out["challenger_score"]
        if champ_v is None:
            tracking.promote(paths.root, name, chall_v)
            out["champion_version"] = chall_v
        out["decision"] = "first champion" if not reference else "challenger is already the champion"
        write_json(ref_path, {**reference_profile(train, schema), "version": chall_v})
        return out
    champion = tracking.load_registered(paths.root, name, tracking.CHAMPION)
    try:
        out["champion_score"] = headline_recall(champion, valid, test, schema, budget)
    except Exception as e:  # noqa: BLE001 - e.g. the features changed
        out["champion_score"] = None
        out["decision"] = f"kept champion: it cannot score the new data ({str(e)[:150]}); promote by hand if intended"
        return out
    gain = out["challenger_score"] - out["champion_score"]
    out["gain"] = round(gain, 6)
    if gain > margin:
        tracking.promote(paths.root, name, chall_v)  # last step: the alias moves only now
        out["decision"] = "promoted challenger"
        write_json(ref_path, {**reference_profile(train, schema), "version": chall_v})
    else:
        out["decision"] = "kept champion"
    return out
