"""Running DVC from the retrain: `dvc` as a child process whose whole tree dies with the retrain, the one-line
cause of a failed `dvc repro`, and DVC's stage lock left behind by a killed run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.paths import Paths


def run_dvc(paths: Paths, args: list[str]) -> None:
    """Run dvc; if the retrain is interrupted (SIGTERM, Ctrl-C, any error), dvc and the stage it runs are killed.

    dvc stays in the retrain's process group, so a signal to the whole group (Ctrl-C, systemd stop,
    `kill -- -PGID`) reaches every process at once. (A retrain run by the warm-start server,
    `pipeline.core.warmstart`, is a fork in a group of its own: the `python -m pipeline retrain` command passes
    SIGINT/SIGTERM/SIGHUP on to it, and when the command dies the server kills that group, dvc and its stage
    included.)"""
    venv_dvc = Path(sys.executable).parent / "dvc"
    exe = str(venv_dvc) if venv_dvc.exists() else (shutil.which("dvc") or "dvc")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DVC_NO_ANALYTICS", "1")
    proc = subprocess.Popen(
        [exe, *args], cwd=paths.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    assert proc.stdout is not None  # stdout=PIPE
    try:
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
        proc.wait()
    except BaseException:
        kill_tree(proc.pid)
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


def kill_tree(pid: int) -> None:
    """Kill a process and all its descendants, and wait (up to 10 s) until they are gone."""
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
