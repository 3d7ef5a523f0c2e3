"""Benchmark: the test suite as `make test` runs it (lint, then pytest with one xdist worker per core).

Runs `make lint` and then pytest exactly as the Makefile's `test` target does (`-n TEST_WORKERS --dist
loadfile`), with `--durations=0` and a JUnit XML report, from the repository root; records the wall time
of each, the load average before and after, the CPU seconds other jobs used meanwhile (the two cores may
be shared: contention slows everything), the outcome counts, the slowest test files (sum of their
tests' setup + call + teardown) and the slowest single tests.

Run from the repository root: `.venv/bin/python tests/bench/suite.py [--workers N] [--label TEXT]`
(the whole suite: 10-25 minutes). Results: `tests/bench/results/suite.json` (one entry per label, the
latest run of a label replaces the earlier one) and `suite.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]  # no shadowing
sys.path.insert(0, str(ROOT))

from tests.bench.benchlib import busy_cpu_s, child_env, loadavg  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results"


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str, float]:
    cpu0, t0 = busy_cpu_s(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode, proc.stdout + proc.stderr, busy_cpu_s() - cpu0


def _junit(path: Path) -> tuple[dict[str, int], list[tuple[str, float]], list[tuple[str, float]]]:
    counts: dict[str, int] = defaultdict(int)
    per_file: dict[str, float] = defaultdict(float)
    per_test: list[tuple[str, float]] = []
    for case in ET.parse(path).getroot().iter("testcase"):
        seconds = float(case.get("time") or 0.0)
        parts = case.get("classname", "").split(".")  # module path, then the class for a method
        cut = next((i for i, p in enumerate(parts) if p.startswith("test_")), len(parts) - 1)
        module = "/".join(parts[: cut + 1]) + ".py"
        name = f"{module}::{'.'.join(parts[cut + 1 :] + [case.get('name') or ''])}"
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = {"failure": "failed", "error": "errors", "skipped": "skipped"}[child.tag]
        counts[kind] += 1
        per_file[module] += seconds
        per_test.append((name, seconds))
    files = sorted(per_file.items(), key=lambda kv: -kv[1])
    tests = sorted(per_test, key=lambda kv: -kv[1])
    return dict(counts), files, tests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default=str(os.cpu_count() or 2), help="pytest-xdist workers (0: one process)")
    ap.add_argument("--label", default="current", help="name of this measurement in the results file")
    ap.add_argument(
        "--regroup",
        metavar="JUNIT_XML",
        help="only recompute the slowest files and tests of the entry "
        "`--label` from that run's JUnit report (the timings are the run's own)",
    )
    args = ap.parse_args()
    if args.regroup:
        path = RESULTS / "suite.json"
        runs = json.loads(path.read_text())
        _, files, tests = _junit(Path(args.regroup))
        for r in runs:
            if r["label"] == args.label:
                r["slowest_files"] = [[f, round(s, 1)] for f, s in files[:12]]
                r["slowest_tests"] = [[t, round(s, 1)] for t, s in tests[:15]]
        path.write_text(json.dumps(runs, indent=2) + "\n")
        (RESULTS / "suite.md").write_text(_markdown(runs))
        return
    env = child_env()
    bin_dir = ROOT / ".venv" / "bin"
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    py = str(bin_dir / "python")

    lint_s, lint_rc, lint_out, _ = _timed(["make", "--no-print-directory", "lint"], env)  # ruff, format check, mypy
    xml = Path(tempfile.mkdtemp(prefix="suite-bench-")) / "junit.xml"
    load_before = loadavg()
    cmd = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}"]
    if args.workers != "0":
        cmd += ["-n", args.workers, "--dist", "loadfile"]
    test_s, test_rc, test_out, cpu_s = _timed(cmd, env)
    load_after = loadavg()
    counts, files, tests = _junit(xml) if xml.exists() else ({}, [], [])
    entry = {
        "label": args.label,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "workers": args.workers,
        "lint_s": round(lint_s, 1),
        "lint_ok": lint_rc == 0,
        "pytest_s": round(test_s, 1),
        "pytest_rc": test_rc,
        "total_s": round(lint_s + test_s, 1),
        "counts": counts,
        "load_before": load_before,
        "load_after": load_after,
        "cpu_s_machine": round(cpu_s, 1),
        "summary_line": test_out.strip().splitlines()[-1] if test_out.strip() else "",
        "slowest_files": [[f, round(s, 1)] for f, s in files[:12]],
        "slowest_tests": [[t, round(s, 1)] for t, s in tests[:15]],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "suite.json"
    runs = [r for r in (json.loads(path.read_text()) if path.exists() else []) if r["label"] != args.label]
    runs.append(entry)
    path.write_text(json.dumps(runs, indent=2) + "\n")
    (RESULTS / "suite.md").write_text(_markdown(runs))
    print(f"lint {lint_s:.1f} s, pytest {test_s:.1f} s ({entry['summary_line']}); results in {path}")
    if lint_rc or test_rc:
        print(lint_out[-2000:] + test_out[-4000:])
        sys.exit(1)


def _mmss(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _markdown(runs: list[dict]) -> str:
    lines = [
        "# The test suite (`make test`: lint, then pytest)",
        "",
        "Measured by `tests/bench/suite.py` (wall time on this machine; the two cores may be shared with other "
        "jobs: see the load average and the machine's busy CPU seconds).",
        "",
        "| measurement | date | workers | lint | pytest | total | outcome | load before -> after | machine CPU s |",
        "|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in runs:
        outcome = ", ".join(f"{v} {k}" for k, v in sorted(r["counts"].items()))
        lines.append(
            f"| {r['label']} | {r['date']} | {r['workers']} | {r['lint_s']} s | {_mmss(r['pytest_s'])} | "
            f"**{_mmss(r['total_s'])}** | {outcome} | {r['load_before']} -> {r['load_after']} | "
            f"{r['cpu_s_machine']} |"
        )
    for r in runs:
        lines += [
            "",
            f"## {r['label']}: slowest files (sum over their tests, setup included)",
            "",
            "| file | s |",
            "|---|---:|",
        ]
        lines += [f"| {f} | {s} |" for f, s in r["slowest_files"]]
        lines += ["", f"## {r['label']}: slowest tests", "", "| test | s |", "|---|---:|"]
        lines += [f"| {t} | {s} |" for t, s in r["slowest_tests"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
