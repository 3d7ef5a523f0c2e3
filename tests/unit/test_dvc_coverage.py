"""dvc.yaml declares every module each stage imports: a stale result cannot come from undeclared code.

(The params half of the check needs a real run: tests/integration/test_dvc_pipeline.py.)
"""

import copy

import pytest

from tests.dvc_coverage import (
    ROOT,
    imported_modules,
    load,
    stage_modules,
    uncovered_code,
    uncovered_params,
    unused_code_deps,
)

STAGES = load()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_imported_module_is_a_declared_dep(stage):
    assert uncovered_code(ROOT, STAGES[stage]) == []


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_no_declared_code_dep_is_unused(stage):
    """The other direction: an extra dep would rerun the stage for changes that cannot affect it."""
    assert unused_code_deps(ROOT, STAGES[stage]) == []


def test_the_check_fails_when_a_dep_is_removed():
    stage = copy.deepcopy(STAGES["sample@smote-0"])
    stage["deps"].remove("pipeline/experiment/blend.py")
    assert uncovered_code(ROOT, stage) == ["pipeline/experiment/blend.py"]
    stage["deps"].remove("pipeline/generators")  # a folder dep covers every module inside it
    assert "pipeline/generators/base.py" in uncovered_code(ROOT, stage)


def test_every_stage_depends_on_the_params_defaults():
    """cli.py loads params (with every default from the SPEC in params.py) before any stage runs: a changed
    default must rerun every stage, not leave it "up to date" with a stale result."""
    for sid, stage in STAGES.items():
        assert {"pipeline/config/params.py", "pipeline/core/checks.py"} <= stage_modules(ROOT, stage), sid
    stage = copy.deepcopy(STAGES["train"])
    stage["deps"].remove("pipeline/config")
    assert uncovered_code(ROOT, stage) == [
        "pipeline/config/__init__.py",
        "pipeline/config/param_checks.py",
        "pipeline/config/params.py",
        "pipeline/config/recording.py",
    ]


def test_imports_inside_functions_and_packages_count():
    mods = imported_modules(ROOT, "pipeline/stages/prepare.py")
    assert "pipeline/data/simulate.py" in mods  # imported inside load_source
    assert "pipeline/data/__init__.py" in mods and "pipeline/__init__.py" in mods


def test_no_stage_imports_another_stage():
    for sid, stage in STAGES.items():
        others = {m for m in imported_modules(ROOT, stage["module"]) if m.startswith("pipeline/stages/")}
        assert others <= {stage["module"], "pipeline/stages/__init__.py"}, sid


def test_params_rule():
    stage = {"params": ["data", "augment.shares", "generators.ctgan"]}
    assert uncovered_params(stage, ["data.simulate.seed", "augment", "augment.shares", "generators.ctgan.*"]) == []
    assert uncovered_params(stage, ["augment.fit_seeds", "generators.*", "detector"]) == [
        "augment.fit_seeds",
        "detector",
        "generators.*",
    ]
