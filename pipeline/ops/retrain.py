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
(`pipeline.ops.drift`); the data window is `pipeline.ops.window`, running DVC `pipeline.ops.dvc_runner`, the
guardrails' measurements `pipeline.ops.guardrails`. This module is the orchestration and the I/O around them,
and the only place that moves the `champion` alias.

Any failure leaves the champion alias where it was (promotion is the very last step), releases
the lock (an OS file lock: a killed process releases it too) and writes a `failed` audit line.
A retrain killed before it could write its line is recorded by the next one.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.config.params import load_params
from pipeline.core.errors import PipelineError
from pipeline.core.files import read_json, write_json
from pipeline.core.formats import num
from pipeline.core.paths import Paths
from pipeline.ops import drift as drift_mod
from pipeline.ops.audit import append_audit, exclusive_lock, now, read_audit
from pipeline.ops.dvc_runner import clear_stale_dvc_lock, run_dvc
from pipeline.ops.guardrails import attack_recalls, attacked_frauds, guardrail_segments, pool_flags, recalls
from pipeline.ops.promotion import decide
from pipeline.ops.window import set_offset, target_offset


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
        append_audit(
            audit_path,
            {
                **prev,
                "status": "failed",
                "time_recorded": now(),
                "error": "the previous retrain ended without finishing (killed?)",
            },
        )
        audit = read_audit(audit_path)
    offset = target_offset(params, audit, rt["advance_days"]) if advance else None
    record: dict[str, Any] = {
        "time": now(),
        "status": "started",
        "pid": os.getpid(),
        "day_offset": offset,
        "source": params["data"]["source"],
    }
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
            run_dvc(paths, ["repro", "--force", "--single-item", "prepare"])
        run_dvc(paths, ["repro", "publish"])  # the pipeline up to the registered challenger; not the scarcity sweep
        result = _decide(paths, params, previous)
        record.update(result)
        record.update({"status": "ok", "seconds": round(time.perf_counter() - started, 1), "time_end": now()})
        try:
            tracking.log_retrain(paths.root, params["tracking"]["experiment"], record, record.get("parent_run_id"))
        except PipelineError as e:
            record["mlflow_note"] = f"decision not attached to MLflow: {e}"
        append_audit(audit_path, record)
        print(
            f"retrain: {record['decision']} (champion v{record.get('champion_version')} "
            f"{num(record.get('champion_score'), 4)}, challenger v{record.get('challenger_version')} "
            f"{num(record.get('challenger_score'), 4)}); audit: {audit_path}"
        )
        return 0
    except BaseException as e:
        record.update(
            {
                "status": "failed",
                "error": str(e) or type(e).__name__,
                "time_end": now(),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        append_audit(audit_path, record)
        raise
    finally:
        signal.signal(signal.SIGTERM, old)


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
        "parent_run_id": pub.get("parent_run_id"),
        "best_config": pub.get("best_config"),
        "margin": rt["margin"],
        "headline_budget": budget,
    }
    reference = read_json(paths.champion_reference) if paths.champion_reference.exists() else None
    out["drift"] = (
        drift_mod.drift(reference, train, schema, "champion")
        if reference
        else drift_mod.drift(previous, train, schema, "previous pipeline run")
    )

    champ_v = tracking.alias_version(paths.root, name, tracking.CHAMPION)
    chall_v = tracking.alias_version(paths.root, name, tracking.CHALLENGER)
    out["champion_version"], out["challenger_version"] = champ_v, chall_v
    if chall_v is None:
        raise PipelineError(f"registered model {name!r} has no challenger; the publish stage did not register one")
    segments = guardrail_segments(test, params, schema.label)
    y_test = test[schema.label].to_numpy()
    challenger = tracking.load_registered(paths.root, name, tracking.CHALLENGER)
    attacked = attacked_frauds(params, schema, train, test)
    out["challenger_score"], chall_seg = recalls(challenger, schema, valid, test, budget, segments)
    chall_rt = attack_recalls(challenger, schema, valid, attacked, budget)
    champ_score, champ_seg, champ_rt, champ_error = out["challenger_score"], chall_seg, chall_rt, None
    if champ_v is not None and champ_v != chall_v:
        try:
            champion = tracking.load_registered(paths.root, name, tracking.CHAMPION)
            champ_score, champ_seg = recalls(champion, schema, valid, test, budget, segments)
            champ_rt = attack_recalls(champion, schema, valid, attacked, budget)
        except Exception as e:  # noqa: BLE001 - e.g. the features changed
            champ_score, champ_error = None, str(e)[:150]
    out["champion_score"] = champ_score
    redteam = {t: (champ_rt[t], chall_rt[t]) for t in chall_rt} if champ_score is not None else None
    if redteam:
        out["redteam"] = {t: {"champion": a, "challenger": b} for t, (a, b) in redteam.items()}
    min_frauds = params["evaluate"]["min_segment_frauds"]  # fewer test frauds: too few to judge
    drops = {
        k: (round(champ_seg[k] - chall_seg[k], 6) if int(y_test[m].sum()) >= min_frauds else None)
        for k, m in segments.items()
    }
    decision = decide(
        champ_v,
        chall_v,
        champ_score,
        out["challenger_score"],
        rt["margin"],
        champ_error,
        segment_drops=drops,
        max_segment_drop=rt["max_segment_drop"],
        pool_flags=pool_flags(paths, pub.get("best_config"), params["augment"]["fit_seeds"]),
        allow_flagged_pool=rt["allow_flagged_pool"],
        redteam_recalls=redteam,
        max_redteam_drop=rt["max_redteam_drop"],
    )
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
