"""The experiment's plan: built once from params and the sample stages' reports, recorded in train_report.json and
taken back from it unchanged."""

import json

import pytest

from pipeline.core.errors import DataError
from pipeline.core.paths import Paths
from pipeline.experiment.grid import AUGMENTED, BASELINE, REWEIGHT
from pipeline.experiment.plan import Plan, build_plan


def _params(**augment):
    return {
        "generators": {"ctgan": {}, "smote": {}},
        "quality": {"exclude_failed": True},
        "augment": {"fit_seeds": [3, 1], "shares": [0, 0.25, 0.5], "target": None, **augment},
        "detector": {"seeds": [0, 1]},
    }


def _reports(paths: Paths, passed: dict[str, bool], fit_seeds=(3, 1)) -> None:
    for name, ok in passed.items():
        for f in fit_seeds:
            path = paths.quality_report(name, f)
            path.parent.mkdir(parents=True, exist_ok=True)
            report = {"checks": {"x": {"passed": ok}}, "passed": ok}
            path.write_text(json.dumps(report))


def test_the_plan_lists_every_detector_once(tmp_path):
    paths = Paths.at(tmp_path)
    _reports(paths, {"ctgan": True, "smote": True})
    plan = build_plan(_params(), paths)
    assert plan.pools == ("ctgan", "smote") and plan.excluded == {}
    assert [a.id for a in plan.arms] == ["baseline", "reweight", "ctgan@0.25", "ctgan@0.5", "smote@0.25", "smote@0.5"]
    units = plan.units()
    # baselines: one per detector seed, no fit; augmented arms: every fit x every seed
    assert len(units) == 2 * 2 + 4 * 2 * 2 and len(set(units)) == len(units)
    assert all(f is None for a, f, _ in units if a.kind in (BASELINE, REWEIGHT))
    assert {f for a, f, _ in units if a.kind == AUGMENTED} == {3, 1}
    assert plan.first_fit == 1 and plan.first_seed == 0


def test_a_failed_pool_is_left_out_of_the_arms_with_its_reason(tmp_path):
    paths = Paths.at(tmp_path)
    _reports(paths, {"ctgan": False, "smote": True})
    plan = build_plan(_params(), paths)
    assert list(plan.excluded) == ["ctgan"] and plan.excluded["ctgan"].startswith("failed quality checks")
    assert plan.blended_pools == ["smote"] and all(a.generator != "ctgan" for a in plan.arms)
    assert plan.pools == ("ctgan", "smote")  # still reported: the leaderboard says why it is missing
    kept = build_plan({**_params(), "quality": {"exclude_failed": False}}, paths)
    assert kept.excluded == {} and kept.blended_pools == ["ctgan", "smote"]


def test_targeted_pools_follow_the_generators(tmp_path):
    paths = Paths.at(tmp_path)
    _reports(paths, {"ctgan": True, "smote": True})
    plan = build_plan(_params(target={"column": "s", "policy": "balance", "weights": None}), paths)
    assert plan.pools == ("ctgan", "smote", "ctgan+target", "smote+target")


def test_the_recorded_plan_comes_back_unchanged(tmp_path):
    paths = Paths.at(tmp_path)
    _reports(paths, {"ctgan": False, "smote": True})
    plan = build_plan(_params(), paths)
    again = Plan.from_report(json.loads(json.dumps({"detectors": [], **plan.record()})))
    assert again == plan and again.units() == plan.units()


def test_a_missing_sample_stage_is_named(tmp_path):
    paths = Paths.at(tmp_path)
    _reports(paths, {"ctgan": True})
    with pytest.raises(DataError, match=r"run the sample stage for smote \(dvc repro sample@smote-3\)"):
        build_plan(_params(), paths)
