"""Benchmark: the whole pipeline under DVC (`dvc repro`) in a temporary copy of the project.

The copy holds pipeline/, dvc.yaml, params.yaml, .dvcignore, .gitignore, .dvc/config,
.dvc/.gitignore and data/raw/README.md (no __pycache__), committed to a fresh git repository;
MLFLOW_TRACKING_URI is unset, so the publish stage writes a local SQLite store inside the copy.
Three runs, each timed:

1. ``dvc repro`` end to end with the shipped params.yaml: wall time; per-stage wall time from
   timestamping each streamed "Running stage '...'" line (a stage lasts until the next one starts,
   the last until dvc exits, so DVC's own hashing / caching / lock-file work after a stage counts
   in that stage; the time to the stage's "Updating lock file" line is recorded too); peak memory
   from GNU ``/usr/bin/time -v`` (Maximum resident set size: the largest single process of the
   tree) and from polling the process tree with psutil every 0.25 s (largest sum of RSS over the
   tree, and per stage the largest sum and the largest single process);
2. ``dvc repro`` again with nothing changed (DESIGN budget < 15 s; no stage may run);
3. only ``augment.shares`` changed (to [0.0, 0.5]): the run must not rerun any ``fit@`` stage.

Runs 1 and 3 run as ``make run`` does, beside a warm-start server (``python -m pipeline.core.warmstart dvc
repro``: the stages run in forks of a process that imported sdv/torch/MLflow once; the server and its forks are
children of the measured command); ``--cold`` runs plain ``dvc repro`` (every stage imports its libraries itself).

``os.getloadavg()`` is recorded at the start and end of each run, and the CPU seconds other jobs
used on the machine meanwhile (machine-wide busy CPU minus this run's, ``cpu_s.other_jobs``): the
two cores may be shared, and contention slows the train stage (XGBoost, n_jobs=2) several-fold.
Run from the repository root: ``.venv/bin/python tests/bench/pipeline.py`` (3-5 minutes;
``--keep`` keeps the temporary copy, ``--cold`` see above). Results go to ``tests/bench/results/pipeline.json`` and a
table to ``tests/bench/results/pipeline.md`` (with ``--cold``: ``pipeline_cold.json`` and ``.md``).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# This file is called pipeline.py: its folder must not shadow the `pipeline` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from tests.bench.benchlib import busy_cpu_s, loadavg, versions  # noqa: E402

COLD = "--cold" in sys.argv[1:]  # runs 1 and 3 as plain `dvc repro`, results in pipeline_cold.*
RESULTS = ROOT / "tests" / "bench" / "results" / ("pipeline_cold.json" if COLD else "pipeline.json")
TABLE = RESULTS.with_suffix(".md")
VENV_BIN = ROOT / ".venv" / "bin"
COPY = [
    "pipeline",
    "dvc.yaml",
    "params.yaml",
    ".dvcignore",
    ".gitignore",
    ".dvc/config",
    ".dvc/.gitignore",
    "data/raw/README.md",
]
NOOP_BUDGET_S = 15.0  # DESIGN's budget
NOOP_TARGET_S = 2.0  # issue 23's target
NEW_SHARES = [0.0, 0.5]
POLL_S = 0.25
GNU_TIME = Path("/usr/bin/time")

RUNNING = re.compile(r"Running stage '([^']+)'")
SKIPPED = re.compile(r"Stage '([^']+)' didn't change, skipping")
LOCKED = re.compile(r"Updating lock file '([^']+)'")


def _env(project: Path) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("PYTHONDONTWRITEBYTECODE", "MLFLOW_TRACKING_URI", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(k, None)
    env.update(
        {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DVC_NO_ANALYTICS": "1",
            "DO_NOT_TRACK": "true",
            "GIT_PYTHON_REFRESH": "quiet",
            "DVC_SITE_CACHE_DIR": str(project / ".dvc" / "tmp" / "site-cache"),
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",  # `python` in dvc.yaml -> the venv's
            "PYTHONUNBUFFERED": "1",  # stage output (and dvc's) streams line by line
        }
    )
    return env


# ---------------------------------------------------------------------------------------------
# the temporary project
# ---------------------------------------------------------------------------------------------
def make_project() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    for rel in COPY:
        src, dst = ROOT / rel, tmp / rel
        if not src.exists():
            raise SystemExit(f"{rel} not found in {ROOT}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dst)
    env = _env(tmp)
    git = ["git", "-C", str(tmp)]
    subprocess.run([*git, "init", "-q"], check=True, env=env)
    subprocess.run([*git, "add", "-A"], check=True, env=env)
    subprocess.run(
        [*git, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "bench"], check=True, env=env
    )
    return tmp


# ---------------------------------------------------------------------------------------------
# one `dvc repro`, streamed and measured
# ---------------------------------------------------------------------------------------------
class _Poller(threading.Thread):
    """Polls the RSS of a process tree; keeps the overall and per-stage maxima."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.stage: str | None = None
        self.max_sum = 0
        self.max_single = 0
        self.per_stage: dict[str, dict[str, int]] = {}
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            total, single = 0, 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                single = max(single, rss)
            self.samples += 1
            self.max_sum = max(self.max_sum, total)
            self.max_single = max(self.max_single, single)
            if self.stage:
                st = self.per_stage.setdefault(self.stage, {"sum": 0, "single": 0})
                st["sum"] = max(st["sum"], total)
                st["single"] = max(st["single"], single)
            self._halt.wait(POLL_S)

    def stop(self) -> None:
        self._halt.set()


def _gnu_time_ok() -> bool:
    if not GNU_TIME.exists():
        return False
    r = subprocess.run([str(GNU_TIME), "-v", "true"], capture_output=True, text=True)
    return r.returncode == 0 and "Maximum resident set size" in r.stderr


def _parse_gnu_time(path: Path) -> dict:
    out = {}
    if not path.exists():
        return out
    text = path.read_text()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        out["max_rss_mib"] = round(int(m.group(1)) / 1024, 1)
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if m:
        secs = 0.0
        for part in m.group(1).split(":"):
            secs = secs * 60 + float(part)
        out["elapsed_s"] = round(secs, 2)
    for key, label in (("user_s", "User time (seconds)"), ("system_s", "System time (seconds)")):
        m = re.search(re.escape(label) + r": ([\d.]+)", text)
        if m:
            out[key] = float(m.group(1))
    m = re.search(r"Percent of CPU this job got: (\d+)%", text)
    if m:
        out["cpu_percent"] = int(m.group(1))
    return out


def repro(project: Path, label: str, log_dir: Path, warm: bool = False) -> dict:
    """`dvc repro` in `project`; with `warm`, as `make run` runs it: beside a warm-start server
    (`python -m pipeline.core.warmstart dvc repro`), whose forks run the stages (they are in the measured tree)."""
    dvc = str(VENV_BIN / "dvc")
    time_file = log_dir / f"{label}.time.txt"
    use_time = _gnu_time_ok()
    wrapper = [str(VENV_BIN / "python"), "-m", "pipeline.core.warmstart"] if warm else []
    cmd = ([str(GNU_TIME), "-v", "-o", str(time_file)] if use_time else []) + wrapper + [dvc, "repro"]
    log_path = log_dir / f"{label}.log"
    events: list[tuple[float, str, str]] = []  # (t, kind, stage)
    load_start = loadavg()
    busy_start = busy_cpu_s()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=project, env=_env(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    poller = _Poller(proc.pid)
    poller.start()
    lines = []
    with open(log_path, "w") as log:
        assert proc.stdout is not None
        for line in proc.stdout:
            t = time.perf_counter() - t0
            log.write(f"[{t:8.2f}] {line}")
            lines.append(line.rstrip("\n"))
            for kind, rx in (("run", RUNNING), ("skip", SKIPPED), ("lock", LOCKED)):
                m = rx.search(line)
                if m:
                    if kind == "run":
                        poller.stage = m.group(1)
                    events.append((t, kind, m.group(1)))
    rc = proc.wait()
    wall = time.perf_counter() - t0
    busy = busy_cpu_s() - busy_start
    poller.stop()
    poller.join(timeout=5)
    load_end = loadavg()

    runs = [(t, s) for t, k, s in events if k == "run"]
    locks = [t for t, k, _ in events if k == "lock"]
    stages = []
    for i, (t, name) in enumerate(runs):
        end = runs[i + 1][0] if i + 1 < len(runs) else wall
        lock_t = next((lt for lt in locks if t < lt <= end), None)
        mem = poller.per_stage.get(name, {})
        stages.append(
            {
                "stage": name,
                "start_s": round(t, 2),
                "wall_s": round(end - t, 2),
                "to_lock_update_s": round(lock_t - t, 2) if lock_t is not None else None,
                "peak_tree_rss_mib": round(mem.get("sum", 0) / 2**20, 1) if mem else None,
                "peak_process_rss_mib": round(mem.get("single", 0) / 2**20, 1) if mem else None,
            }
        )
    result = {
        "label": label,
        "command": " ".join(["python -m pipeline.core.warmstart"] * warm + ["dvc repro"]),
        "returncode": rc,
        "wall_s": round(wall, 2),
        "before_first_stage_s": round(runs[0][0], 2) if runs else None,
        "stages_run": [s for _, s in runs],
        "stages_skipped": [s for _, k, s in events if k == "skip"],
        "up_to_date_message": any("Data and pipelines are up to date" in ln for ln in lines),
        "stages": stages,
        "peak_mib": {
            "gnu_time_max_process_rss": None,
            "psutil_max_tree_rss_sum": round(poller.max_sum / 2**20, 1),
            "psutil_max_process_rss": round(poller.max_single / 2**20, 1),
            "psutil_samples": poller.samples,
        },
        "loadavg": {"start": load_start, "end": load_end},
        "log_tail": lines[-15:],
    }
    result["cpu_s"] = {"machine_busy": round(busy, 1)}
    if use_time:
        gt = _parse_gnu_time(time_file)
        result["gnu_time"] = gt
        result["peak_mib"]["gnu_time_max_process_rss"] = gt.get("max_rss_mib")
        ours = gt.get("user_s", 0.0) + gt.get("system_s", 0.0)
        # CPU the rest of the machine used meanwhile (other jobs): contention indicator
        result["cpu_s"].update(
            this_run=round(ours, 1),
            other_jobs=round(max(busy - ours, 0.0), 1),
            capacity=round(wall * (os.cpu_count() or 1), 1),
        )
    return result


def expected_stages(project: Path) -> list[str]:
    """Every stage of the copy's dvc.yaml, `foreach` and `matrix` stages expanded as DVC names them."""
    import yaml

    from tests.dvc_coverage import stages

    params = yaml.safe_load((project / "params.yaml").read_text())
    return list(stages(yaml.safe_load((project / "dvc.yaml").read_text()), params))


def set_shares(project: Path, shares: list[float]) -> dict:
    """Edit augment.shares in the copy's params.yaml in place (comments kept); check the result."""
    import yaml

    path = project / "params.yaml"
    text = path.read_text()
    before = yaml.safe_load(text)
    lines = text.splitlines(keepends=True)
    section, done = None, False
    for i, line in enumerate(lines):
        m = re.match(r"^(\w[\w-]*):", line)
        if m:
            section = m.group(1)
        elif section == "augment" and re.match(r"^\s+shares:", line) and not done:
            indent = re.match(r"^(\s+)", line).group(1)
            comment = line[line.index("#") :].rstrip("\n") if "#" in line else ""
            lines[i] = f"{indent}shares: {json.dumps(shares)}" + (f"   {comment}" if comment else "") + "\n"
            done = True
    if not done:
        raise SystemExit("augment.shares not found in params.yaml")
    path.write_text("".join(lines))
    after = yaml.safe_load(path.read_text())
    expected = json.loads(json.dumps(before))
    expected["augment"]["shares"] = shares
    if after != expected:
        raise SystemExit("editing augment.shares changed something else in params.yaml")
    return {"before": before["augment"]["shares"], "after": after["augment"]["shares"]}


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _f(v, nd=1):
    return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def _contention(r: dict) -> str:
    cpu = r.get("cpu_s", {})
    if cpu.get("other_jobs") is None:
        return "CPU used by other jobs unknown"
    return (
        f"CPU seconds: this run {cpu['this_run']}, other jobs on the machine {cpu['other_jobs']} "
        f"(of {cpu['capacity']} available)"
    )


def write_table(doc: dict) -> None:
    full, noop, shares = doc["runs"]["full"], doc["runs"]["noop"], doc["runs"]["shares_only"]
    c = doc["checks"]
    lines = [
        "# Pipeline benchmark (`dvc repro` in a temporary copy of the project)",
        "",
        f"Machine: {doc['machine']['cpus']} CPUs, Python {doc['machine']['python']}, DVC {doc['versions'].get('dvc')}. "
        "Per-stage wall time runs from a stage's `Running stage` line to the next one (the last to dvc's exit), "
        "so DVC's hashing/caching after a stage counts in that stage. Peak RSS: psutil polling every "
        f"{POLL_S} s (tree = sum over dvc and its children; process = the largest single process).",
        "",
        f"## Run 1: full `{full['command']}` (shipped params.yaml)",
        "",
        f"Wall time **{_f(full['wall_s'])} s** (exit {full['returncode']}); dvc start-up before the first stage "
        f"{_f(full['before_first_stage_s'])} s; peak RSS: GNU time (largest process) "
        f"{_f(full['peak_mib']['gnu_time_max_process_rss'])} MiB, psutil tree sum "
        f"{_f(full['peak_mib']['psutil_max_tree_rss_sum'])} MiB; load average {full['loadavg']['start']} -> "
        f"{full['loadavg']['end']}; {_contention(full)}.",
        "",
        "| stage | wall s | peak tree RSS MiB | peak process RSS MiB |",
        "|---|---:|---:|---:|",
        *[
            f"| {s['stage']} | {_f(s['wall_s'], 2)} | {_f(s['peak_tree_rss_mib'])} | {_f(s['peak_process_rss_mib'])} |"
            for s in full["stages"]
        ],
        f"| **total** | **{_f(full['wall_s'], 2)}** | {_f(full['peak_mib']['psutil_max_tree_rss_sum'])} | "
        f"{_f(full['peak_mib']['psutil_max_process_rss'])} |",
        "",
        "## Run 2: `dvc repro` again, nothing changed",
        "",
        f"Wall time **{_f(noop['wall_s'], 2)} s** (budget < {NOOP_BUDGET_S:.0f} s: "
        f"{'met' if c['noop_within_budget'] else 'NOT met'}; target <= {NOOP_TARGET_S:.0f} s: "
        f"{'met' if c.get('noop_within_target') else 'NOT met'}); stages run: "
        f"{', '.join(noop['stages_run']) or 'none'}; load average {noop['loadavg']['start']} -> "
        f"{noop['loadavg']['end']}; {_contention(noop)}.",
        "",
        f"## Run 3: only `augment.shares` changed ({shares['params_change']['before']} -> "
        f"{shares['params_change']['after']})",
        "",
        f"Wall time **{_f(shares['wall_s'])} s**; fit@ stages run: "
        f"{', '.join(c['shares_fit_stages_run']) or 'none'} "
        f"({'OK' if not c['shares_fit_stages_run'] else 'NOT OK'}); load average {shares['loadavg']['start']} -> "
        f"{shares['loadavg']['end']}; {_contention(shares)}.",
        "",
        "| stage | wall s | peak tree RSS MiB |",
        "|---|---:|---:|",
        *[f"| {s['stage']} | {_f(s['wall_s'], 2)} | {_f(s['peak_tree_rss_mib'])} |" for s in shares["stages"]],
        "",
        f"Skipped (unchanged): {', '.join(shares['stages_skipped']) or 'none'}.",
        "",
    ]
    TABLE.write_text("\n".join(lines))


def main() -> None:
    keep = "--keep" in sys.argv[1:]
    warm = not COLD  # runs 1 and 3 as `make run` does
    from pipeline.core.files import write_json

    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    project = make_project()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-logs-"))
    print(f"temporary project: {project} (logs: {log_dir})", flush=True)
    try:
        # the copy's own package must be the one that runs
        chk = subprocess.run(
            [str(VENV_BIN / "python"), "-c", "import pipeline; print(pipeline.__file__)"],
            cwd=project,
            env=_env(project),
            capture_output=True,
            text=True,
        )
        pkg_file = chk.stdout.strip()
        expected = expected_stages(project)
        runs = {}
        print("run 1: full dvc repro ...", flush=True)
        runs["full"] = repro(project, "full", log_dir, warm)
        _report(runs["full"])
        if runs["full"]["returncode"] != 0:
            print("\n".join(runs["full"]["log_tail"]))
        print("run 2: dvc repro, nothing changed ...", flush=True)
        runs["noop"] = repro(project, "noop", log_dir)
        _report(runs["noop"])
        print(f"run 3: augment.shares -> {NEW_SHARES} ...", flush=True)
        change = set_shares(project, NEW_SHARES)
        runs["shares_only"] = repro(project, "shares_only", log_dir, warm)
        runs["shares_only"]["params_change"] = change
        _report(runs["shares_only"])

        fit_run = [s for s in runs["shares_only"]["stages_run"] if s.startswith("fit@")]
        checks = {
            "copy_runs_its_own_package": pkg_file.startswith(str(project)),
            "package_file": pkg_file,
            "all_runs_succeeded": all(r["returncode"] == 0 for r in runs.values()),
            "expected_stages": expected,
            "full_ran_every_stage": sorted(runs["full"]["stages_run"]) == sorted(expected),
            "noop_ran_no_stage": not runs["noop"]["stages_run"],
            "noop_said_up_to_date": runs["noop"]["up_to_date_message"],
            "noop_budget_s": NOOP_BUDGET_S,
            "noop_within_budget": runs["noop"]["wall_s"] < NOOP_BUDGET_S,
            "noop_target_s": NOOP_TARGET_S,
            "noop_within_target": runs["noop"]["wall_s"] <= NOOP_TARGET_S,
            "shares_fit_stages_run": fit_run,
            "shares_no_fit_stage_ran": not fit_run,
            "mlflow_store_in_copy": (project / "mlflow" / "mlflow.db").exists(),
        }
        doc = {
            "benchmark": "dvc repro end to end, no-op rerun, augment.shares-only rerun (temporary project copy)",
            "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "versions": versions(("dvc", "mlflow", "sdv", "torch", "xgboost", "pandas")),
            "notes": {
                "stage_wall_s": "from the stage's 'Running stage' line to the next one (last: to dvc's exit); "
                "includes DVC's hashing/caching/lock update after the command",
                "peak_mib": "gnu_time_max_process_rss: /usr/bin/time -v Maximum resident set size (largest single "
                "process; a forked child's ru_maxrss can include dvc's RSS at fork); psutil_*: polling "
                f"every {POLL_S} s, sum over the tree and the largest process (short spikes can be missed)",
                "mlflow": "MLFLOW_TRACKING_URI unset: the publish stage writes mlflow/mlflow.db inside the copy",
                "loadavg": "os.getloadavg() (1, 5, 15 min) at the start and end of each run",
                "cpu_s": "machine_busy: busy CPU seconds of the whole machine during the run (psutil.cpu_times); "
                "this_run: user+system of dvc and its stages (GNU time); other_jobs: the difference, "
                "i.e. CPU other work took meanwhile (contention); capacity: wall x cores",
            },
            "checks": checks,
            "runs": runs,
        }
        write_json(RESULTS, doc)
        write_table(doc)
        print(
            f"checks: {json.dumps({k: v for k, v in checks.items() if k not in ('package_file', 'expected_stages')})}"
        )
        print(f"wrote {RESULTS.relative_to(ROOT)} and {TABLE.relative_to(ROOT)}")
    finally:
        if keep:
            print(f"kept {project} and {log_dir}")
        else:
            shutil.rmtree(project, ignore_errors=True)
            shutil.rmtree(log_dir, ignore_errors=True)


def _report(r: dict) -> None:
    cpu = r.get("cpu_s", {})
    print(
        f"  {r['label']}: exit {r['returncode']}, {r['wall_s']} s, stages run: {len(r['stages_run'])}, "
        f"CPU s this run {cpu.get('this_run')} / other jobs {cpu.get('other_jobs')}, "
        f"peak RSS {r['peak_mib']['gnu_time_max_process_rss']} MiB (GNU time) / "
        f"{r['peak_mib']['psutil_max_tree_rss_sum']} MiB (tree), "
        f"load {r['loadavg']['start']} -> {r['loadavg']['end']}",
        flush=True,
    )
    for s in r["stages"]:
        print(f"    {s['stage']:24s} {s['wall_s']:8.2f} s  peak tree {s['peak_tree_rss_mib']} MiB", flush=True)


if __name__ == "__main__":
    main()
