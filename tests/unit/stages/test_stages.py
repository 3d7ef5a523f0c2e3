"""The stage layer: one module per CLI command and per dvc.yaml stage, each a thin `run(params, paths)`, and the
stages chained in one process on a small table hand each other the experiment's plan unchanged."""

import importlib
import inspect
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.cli import _parser, main
from pipeline.core.paths import Paths
from pipeline.experiment.plan import Plan, build_plan
from tests.helpers import base_params

ROOT = Path(__file__).resolve().parents[3]
STAGES = sorted(p.stem for p in (ROOT / "pipeline" / "stages").glob("*.py") if p.stem != "__init__")


def _commands() -> set[str]:
    sub = next(a for a in _parser()._actions if a.dest == "command")
    return set(sub.choices)


def test_every_stage_module_is_a_command_and_a_dvc_stage():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    dvc_commands = {s["cmd"].split()[3] for s in dvc.values()}
    assert set(STAGES) == _commands() - {"retrain"} == dvc_commands


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_is_a_run_of_params_and_paths(stage):
    run = importlib.import_module(f"pipeline.stages.{stage}").run
    names = list(inspect.signature(run).parameters)
    assert names[:2] == ["params", "paths"]
    assert names[2:] == (["name", "fit_seed"] if stage in ("fit", "sample") else [])


def test_a_generator_that_is_not_configured_is_one_line(project, capsys):
    root = project(base_params())
    assert main(["--root", str(root), "fit", "nosuch", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: params.yaml: generators.nosuch: not configured; configured: ")
    assert "\n" not in err


@pytest.mark.slow
def test_the_stages_chained_in_one_process_share_one_plan(project, capsys):
    """prepare -> fit -> sample -> train -> evaluate in-process on the simulator's small table: the train report
    records the plan build_plan makes, evaluate compares exactly its detectors, and no stage reads the test rows
    before evaluate (the test split's file is not even opened: it is removed until evaluate)."""
    params = base_params(detector={"seeds": [0], "n_estimators": 30})
    params["generators"] = {"smote": {"k_neighbors": 5}}
    root = project(params)
    argv = ["--root", str(root)]
    assert main([*argv, "prepare"]) == 0
    paths = Paths.at(root)
    test_split = paths.split("test")
    hidden = test_split.with_name("hidden.parquet")
    test_split.rename(hidden)
    for command in (["fit", "smote", "0"], ["sample", "smote", "0"], ["train"]):
        assert main([*argv, *command]) == 0, capsys.readouterr().err
    hidden.rename(test_split)
    assert main([*argv, "evaluate"]) == 0, capsys.readouterr().err
    report = json.loads(paths.train_report.read_text())
    plan = Plan.from_report(report)
    assert plan == build_plan(json.loads(json.dumps(params)), paths)
    assert [(d["config"], d["fit_seed"], d["seed"]) for d in report["detectors"]] == [
        (a.id, f, s) for a, f, s in plan.units()
    ]
    table = pd.read_csv(paths.comparison)
    assert table["config"].tolist() == [a.id for a in plan.arms]


@pytest.mark.slow
def test_pools_gated_on_the_same_rows_share_one_cached_gate_reference(project, monkeypatch):
    """The gate's reference (real held-out frauds against the seed set) does not depend on the pool: the first sample
    stage computes it into data/cache/gate, the next generator's reads it; the quality report is byte-identical to
    one computed without the cache."""
    from pipeline.stages import sample

    params = base_params()
    params["generators"] = {"smote": {"k_neighbors": 5}, "random_oversample": {}}
    root = project(params)
    argv = ["--root", str(root)]
    calls = []
    real = sample.real_reference
    monkeypatch.setattr(sample, "real_reference", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    paths = Paths.at(root)
    assert main([*argv, "prepare"]) == 0
    for name in params["generators"]:
        assert main([*argv, "fit", name, "0"]) == 0
        assert main([*argv, "sample", name, "0"]) == 0
    assert len(calls) == 1 and len(list(paths.gate_cache.glob("*.json"))) == 1
    report = paths.quality_report("random_oversample", 0)
    cached = report.read_bytes()
    assert json.loads(cached)["quality_score_real_reference"] is not None  # a reference was computed, not skipped
    for f in paths.gate_cache.glob("*.json"):
        f.unlink()
    assert main([*argv, "sample", "random_oversample", "0"]) == 0
    assert len(calls) == 2 and report.read_bytes() == cached
