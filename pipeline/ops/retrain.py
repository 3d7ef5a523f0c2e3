"""Scheduled retraining: rerun the pipeline on new data, promote only a better detector.

Steps (`python -m pipeline retrain`, `make retrain`):
1. take an exclusive lock (a second concurrent retrain exits at once, exit code 3);
2. check that the tracking store answers (a store that is down fails the run in seconds, before anything moves);
   then bring the data up to date: for the built-in simulator, move `data.simulate.day_offset`
   forward by `retrain.advance_days` (a retry after a failed attempt reuses that attempt's
   target, so a crash never skips a window); for a file source, re-read the file as it is now;
3. run the DVC pipeline up to `publish` (`dvc repro publish`; the scarcity sweep is not rerun), which
   publishes a new `challenger` to the registry;
4. score the `champion` and the `challenger` on the SAME new validation/test rows (threshold
   at the headline alert budget from the validation rows, recall on the test rows);
5. promote the challenger to `champion` only if its headline recall beats the champion's by
   more than `retrain.margin` (absolute) and every guardrail of `pipeline.ops.promotion` passes (segments, pool,
   red team: both scored on the new test frauds under each `redteam:` tactic); older versions stay in the registry;
6. append one JSON line to the audit log: time, data fingerprint, both scores, decision, run
   ids and drift (population stability index per feature and fraud-rate change against the
   data the champion was trained on, or, before there is a champion, the data of the previous
   pipeline run).

The decision itself is a pure function (`pipeline.ops.promotion.decide`), drift too
(`pipeline.ops.drift`); this module is the I/O around them, and the only place that moves the
`champion` alias.

Any failure leaves the champion alias where it was (promotion is the very last step), releases
the lock (an OS file lock: a killed process releases it too) and writes a `failed` audit line.
A retrain killed before it could write its line is recorded by the next one.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config.params import load_params
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, read_json, write_json
from pipeline.core.formats import num
from pipeline.core.paths import Paths
from pipeline.ops import drift as drift_mod
from pipeline.ops.audit import append_audit, exclusive_lock, now, read_audit
from pipeline.ops.promotion import decide


# ----------------------------------------------------------------------------------------
# Data window
# ----------------------------------------------------------------------------------------
def target_offset(params: dict, audit: list[dict], advance_days: int) -> int | None:
    """The simulated window's next `day_offset` (None for a file source). After a failed or killed
    attempt the same target is retried, so a crash never skips a window."""
    if params["data"]["source"] != "simulated":
        return None
    last = audit[-1] if audit else None
    if last and last.get("status") in ("failed", "started") and last.get("day_offset") is not None:
        return int(last["day_offset"])
    return int(params["data"]["simulate"]["day_offset"]) + advance_days


def set_offset(params_path: Path, offset: int) -> None:
    """Set data.simulate.day_offset in params.yaml through one YAML round trip that keeps comments."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(params_path.read_text())
    data.setdefault("data", {}).setdefault("simulate", {})["day_offset"] = int(offset)
    with atomic_path(params_path) as tmp, open(tmp, "w") as fh:
        yaml.dump(data, fh)


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
    if proc.returncode != 0:
        raise PipelineError(f"`dvc {' '.join(args)}` failed (exit {proc.returncode}){failure_cause(''.join(lines))}")


def failure_cause(output: str) -> str:
    """The one-line cause of a failed `dvc repro`, from its output: the stage that failed (DVC's `failed to
    reproduce 'S'`) and the stage's own one-line `error: ...` (what `pipeline.cli` prints for a PipelineError);
    DVC's last error line when the stage printed none, else the last line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    dvc_error = next((ln for ln in reversed(lines) if ln.startswith("ERROR")), None)
    stage_error = next((ln for ln in reversed(lines) if ln.startswith("error:")), None)
    stage = re.search(r"failed to reproduce '([^']+)'", dvc_error or "")
    where = f" in stage {stage.group(1)}" if stage else ""
    cause = stage_error or dvc_error or (lines[-1] if lines else "")
    return f"{where}: {cause[:300]}" if cause else where


def clear_stale_dvc_lock(paths: Paths) -> bool:
    """Remove DVC's stage lock when every process it names is gone or a zombie (a killed retrain's dvc whose
    parent died: DVC itself counts a zombie as alive and would refuse to run). True if it was removed."""
    import json

    import psutil

    lock = paths.dvc_rwlock
    if not lock.exists():
        return False
    try:
        entries = json.loads(lock.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return False
    infos = [*entries.get("write", {}).values(), *[i for v in entries.get("read", {}).values() for i in v]]
    if not infos:
        return False  # DVC leaves the file behind, empty, after every run: nothing holds it, nothing to remove
    for info in infos:
        try:
            if psutil.Process(int(info["pid"])).status() != psutil.STATUS_ZOMBIE:
                return False  # a live dvc holds it: leave it alone
        except (psutil.NoSuchProcess, KeyError, ValueError, TypeError):
            continue
    lock.unlink(missing_ok=True)
    return True


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
    with exclusive_lock(paths.under_root(rt["lock_file"])):
        return _run_locked(paths, params_path, params, paths.under_root(rt["audit_log"]), advance)


def _on_term(signum, frame):  # pragma: no cover - exercised by the kill test
    raise PipelineError(f"retrain stopped by signal {signum}")


def _previous_profile(paths: Paths) -> dict[str, Any] | None:
    """Profile of the training data now on disk (the previous pipeline run), before dvc replaces it."""
    from pipeline.core.schema import Schema

    if not (paths.schema.exists() and paths.split("train").exists()):
        return None
    schema = Schema.load(paths.schema)
    return drift_mod.reference_profile(pd.read_parquet(paths.split("train")), schema)


def _run_locked(paths: Paths, params_path: Path, params: dict, audit_path: Path, advance: bool) -> int:
    from pipeline.ops import tracking

    rt = params["retrain"]
    started = time.perf_counter()
    audit = read_audit(audit_path)
    if audit and audit[-1].get("status") == "started":
        prev = audit[-1]
        append_audit(audit_path, {**prev, "status": "failed", "time_recorded": now(),
                                  "error": "the previous retrain ended without finishing (killed?)"})
        audit = read_audit(audit_path)
    offset = target_offset(params, audit, rt["advance_days"]) if advance else None
    record: dict[str, Any] = {"time": now(), "status": "started", "pid": os.getpid(), "day_offset": offset,
                              "source": params["data"]["source"]}
    append_audit(audit_path, record)
    old = signal.signal(signal.SIGTERM, _on_term)
    try:
        # the registry first: with the tracking store down, the run would fail at publish after the whole pipeline
        # (minutes); it fails here in seconds, before the window moves
        tracking.connect(paths.root, retries=params["tracking"]["retries"], wait_s=params["tracking"]["retry_wait_s"])
        previous = None if paths.champion_reference.exists() else _previous_profile(paths)
        if offset is not None:
            set_offset(params_path, offset)
            params = load_params(params_path)
        if clear_stale_dvc_lock(paths):
            print("retrain: removed DVC's stage lock left by a killed run")
        if params["data"]["source"] != "simulated":
            _dvc(paths, ["repro", "--force", "--single-item", "prepare"])
        _dvc(paths, ["repro", "publish"])  # the pipeline up to the registered challenger; not the scarcity sweep
        result = _decide(paths, params, previous)
        record.update(result)
        record.update({"status": "ok", "seconds": round(time.perf_counter() - started, 1), "time_end": now()})
        try:
            tracking.log_retrain(paths.root, params["tracking"]["experiment"], record, record.get("parent_run_id"))
        except PipelineError as e:
            record["mlflow_note"] = f"decision not attached to MLflow: {e}"
        append_audit(audit_path, record)
        print(f"retrain: {record['decision']} (champion v{record.get('champion_version')} "
              f"{num(record.get('champion_score'), 4)}, challenger v{record.get('challenger_version')} "
              f"{num(record.get('challenger_score'), 4)}); audit: {audit_path}")
        return 0
    except BaseException as e:
        record.update({"status": "failed", "error": str(e) or type(e).__name__, "time_end": now(),
                       "seconds": round(time.perf_counter() - started, 1)})
        append_audit(audit_path, record)
        raise
    finally:
        signal.signal(signal.SIGTERM, old)


def guardrail_segments(test: pd.DataFrame, params: dict, label: str) -> dict[str, np.ndarray]:
    """Masks of the test rows per fraud segment for the segment guardrail: all test frauds, and each segment of
    `evaluate.segments`."""
    from pipeline.data.segments import fraud_segments

    out = {"all test frauds": np.ones(len(test), dtype=bool)}
    out.update({s.name: s.mask for s in fraud_segments(test, params["evaluate"]["segments"], label)})
    return out


def _recalls(scorer: Any, schema, valid: pd.DataFrame, test: pd.DataFrame, budget: float,
             segments: dict[str, np.ndarray]) -> tuple[float, dict[str, float]]:
    """Headline recall of a registered model on the new rows (scored through its serving interface), and per
    segment (thresholds always from all validation legit rows)."""
    from pipeline.experiment.metrics import recall_at_budget

    yv, yt = valid[schema.label].to_numpy(), test[schema.label].to_numpy()
    sv, st = scorer.scores(valid), scorer.scores(test)
    return (recall_at_budget(yv, sv, yt, st, budget),
            {name: recall_at_budget(yv, sv, yt[m], st[m], budget) for name, m in segments.items()})


def attacked_frauds(params: dict, schema, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The new test frauds under each red-team attack (`redteam:`; the quantiles and modes from the new training
    split's legitimate rows), for the red-team guardrail. No tactics: {}."""
    from pipeline.experiment.redteam import apply_attack, attacks

    legit = train[train[schema.label] == 0]
    frauds = test[test[schema.label] == 1].reset_index(drop=True)
    return {a.name: apply_attack(frauds, a, legit, schema) for a in attacks(params["redteam"], schema)}


def _attack_recalls(scorer: Any, schema, valid: pd.DataFrame, attacked: dict[str, pd.DataFrame],
                    budget: float) -> dict[str, float]:
    """Recall of a registered model on each attacked copy of the test frauds (threshold from the validation legit
    rows, as for the headline)."""
    from pipeline.experiment.metrics import recall_at_budget

    if not attacked:
        return {}
    yv, sv = valid[schema.label].to_numpy(), scorer.scores(valid)
    return {name: recall_at_budget(yv, sv, frame[schema.label].to_numpy(), scorer.scores(frame), budget)
            for name, frame in attacked.items()}


def pool_flags(paths: Paths, best_config: str | None, fit_seeds: list[int]) -> list[str] | None:
    """Quality-gate checks failed by the pools (one per fit seed) the challenger was trained on (None: real rows
    only)."""
    from pipeline.quality.reports import failed_checks, load_generator_reports

    if not best_config or "@" not in best_config:
        return None
    name = best_config.split("@")[0]
    report = load_generator_reports([name], paths, "quality", fit_seeds).get(name)
    return failed_checks(report) if report is not None else ["quality report missing"]


def _decide(paths: Paths, params: dict, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score champion and challenger on the same new rows, decide, and move the alias if promoted."""
    from pipeline.core.provenance import file_fingerprint
    from pipeline.core.schema import Schema
    from pipeline.ops import tracking

    name = params["tracking"]["model_name"]
    budget = params["evaluate"]["fpr_budgets"][0]
    rt = params["retrain"]
    schema = Schema.load(paths.schema)
    train = pd.read_parquet(paths.split("train"))
    valid = pd.read_parquet(paths.split("valid"))
    test = pd.read_parquet(paths.split("test"))
    pub = read_json(paths.mlflow_report) if paths.mlflow_report.exists() else {}
    out: dict[str, Any] = {
        "data_fingerprint": file_fingerprint([paths.split(n) for n in ("train", "valid", "test")]),
        "parent_run_id": pub.get("parent_run_id"), "best_config": pub.get("best_config"),
        "margin": rt["margin"], "headline_budget": budget,
    }
    reference = read_json(paths.champion_reference) if paths.champion_reference.exists() else None
    out["drift"] = (drift_mod.drift(reference, train, schema, "champion") if reference
                    else drift_mod.drift(previous, train, schema, "previous pipeline run"))

    champ_v = tracking.alias_version(paths.root, name, tracking.CHAMPION)
    chall_v = tracking.alias_version(paths.root, name, tracking.CHALLENGER)
    out["champion_version"], out["challenger_version"] = champ_v, chall_v
    if chall_v is None:
        raise PipelineError(f"registered model {name!r} has no challenger; the publish stage did not register one")
    segments = guardrail_segments(test, params, schema.label)
    y_test = test[schema.label].to_numpy()
    challenger = tracking.load_registered(paths.root, name, tracking.CHALLENGER)
    attacked = attacked_frauds(params, schema, train, test)
    out["challenger_score"], chall_seg = _recalls(challenger, schema, valid, test, budget, segments)
    chall_rt = _attack_recalls(challenger, schema, valid, attacked, budget)
    champ_score, champ_seg, champ_rt, champ_error = out["challenger_score"], chall_seg, chall_rt, None
    if champ_v is not None and champ_v != chall_v:
        try:
            champion = tracking.load_registered(paths.root, name, tracking.CHAMPION)
            champ_score, champ_seg = _recalls(champion, schema, valid, test, budget, segments)
            champ_rt = _attack_recalls(champion, schema, valid, attacked, budget)
        except Exception as e:  # noqa: BLE001 - e.g. the features changed
            champ_score, champ_error = None, str(e)[:150]
    out["champion_score"] = champ_score
    redteam = {t: (champ_rt[t], chall_rt[t]) for t in chall_rt} if champ_score is not None else None
    if redteam:
        out["redteam"] = {t: {"champion": a, "challenger": b} for t, (a, b) in redteam.items()}
    min_frauds = params["evaluate"]["min_segment_frauds"]  # fewer test frauds: too few to judge
    drops = {k: (round(champ_seg[k] - chall_seg[k], 6) if int(y_test[m].sum()) >= min_frauds else None)
             for k, m in segments.items()}
    decision = decide(champ_v, chall_v, champ_score, out["challenger_score"], rt["margin"], champ_error,
                      segment_drops=drops, max_segment_drop=rt["max_segment_drop"],
                      pool_flags=pool_flags(paths, pub.get("best_config"), params["augment"]["fit_seeds"]),
                      allow_flagged_pool=rt["allow_flagged_pool"], redteam_recalls=redteam,
                      max_redteam_drop=rt["max_redteam_drop"])
    out["decision"] = decision.text
    out["guardrails"] = decision.checks
    out["failed_checks"] = decision.failed
    if decision.gain is not None:
        out["gain"] = decision.gain
    if decision.promote:
        tracking.set_alias(paths.root, name, tracking.CHAMPION, chall_v)  # last step: the alias moves only now
        out["champion_version"] = chall_v
        write_json(paths.champion_reference, {**drift_mod.reference_profile(train, schema), "version": chall_v})
    return out

