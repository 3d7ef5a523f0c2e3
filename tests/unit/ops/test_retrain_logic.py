"""Retraining's pure parts: the promotion decision, drift, the data window and the params edit."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.schema import Feature, Schema
from pipeline.ops.drift import PSI_DRIFT, drift, reference_profile
from pipeline.ops.promotion import decide
from pipeline.ops.window import set_offset, target_offset


@pytest.mark.parametrize(
    "champ, chall, promote, text",
    [
        (0.60, 0.70, True, "promoted challenger"),
        (0.70, 0.60, False, "kept champion"),
        (0.70, 0.705, False, "kept champion"),  # better, but not by more than the margin
        (0.70, 0.71, False, "kept champion"),  # a gain equal to the margin is not enough
    ],
)
def test_promote_only_beyond_the_margin(champ, chall, promote, text):
    d = decide("1", "2", champ, chall, margin=0.01)
    assert (d.promote, d.text) == (promote, text)
    assert d.gain == pytest.approx(chall - champ)


def test_first_champion_same_version_and_unscorable_champion():
    assert decide(None, "1", None, 0.5, 0.01).promote and decide(None, "1", None, 0.5, 0.01).text == "first champion"
    same = decide("3", "3", 0.5, 0.5, 0.01)
    assert not same.promote and same.text == "challenger is already the champion"
    broken = decide("1", "2", None, 0.9, 0.01, champion_error="feature mismatch")
    assert not broken.promote and "cannot score the new data (feature mismatch)" in broken.text


SCHEMA = Schema(
    label="y", features=[Feature("x", "numerical", "float64"), Feature("c", "categorical", "object", ["a", "b"])]
)


def _frame(rng, n, shift=0.0, p_a=0.5, fraud=0.02):
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "c": np.where(rng.random(n) < p_a, "a", "b"),
            "y": (rng.random(n) < fraud).astype(int),
        }
    )


def test_drift_is_small_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    ref = reference_profile(_frame(rng, 5000), SCHEMA)
    same = drift(ref, _frame(rng, 5000), SCHEMA)
    assert same["available"] and same["reference"] == "champion"
    assert max(same["psi"].values()) < 0.05 and same["drifted_features"] == []
    moved = drift(ref, _frame(rng, 5000, shift=1.5, p_a=0.9, fraud=0.05), SCHEMA, basis="previous pipeline run")
    assert moved["psi"]["x"] > PSI_DRIFT and moved["psi"]["c"] > PSI_DRIFT
    assert moved["drifted_features"] == ["c", "x"] and moved["reference"] == "previous pipeline run"
    assert moved["fraud_rate_change"] == pytest.approx(moved["fraud_rate_now"] - moved["fraud_rate_reference"])


def test_no_reference_says_so():
    out = drift(None, _frame(np.random.default_rng(1), 10), SCHEMA)
    assert out == {"available": False, "reason": "no reference profile of earlier training data"}


def test_window_advances_and_a_failed_attempt_is_retried():
    params = {"data": {"source": "simulated", "simulate": {"day_offset": 60}}}
    assert target_offset(params, [], 30) == 90
    assert target_offset(params, [{"status": "ok", "day_offset": 90}], 30) == 90
    assert target_offset(params, [{"status": "failed", "day_offset": 120}], 30) == 120
    assert target_offset(params, [{"status": "started", "day_offset": 150}], 30) == 150
    assert target_offset({"data": {"source": "csv"}}, [], 30) is None


def test_set_offset_keeps_comments_and_everything_else(tmp_path):
    f = tmp_path / "params.yaml"
    text = (
        "# top comment\ndata:\n  source: simulated   # where rows come from\n  simulate:\n"
        '    n_days: 90\n    day_offset: 60           # moves the window\n    start_date: "2025-01-01"\n'
        "split:\n  train: 0.6\n"
    )
    f.write_text(text)
    set_offset(f, 90)
    assert f.read_text() == text.replace("day_offset: 60 ", "day_offset: 90 ")


def test_stale_dvc_lock_removed_only_when_its_processes_are_gone(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from pipeline.core.paths import Paths
    from pipeline.ops.dvc_runner import clear_stale_dvc_lock

    paths = Paths.at(tmp_path)
    paths.dvc_rwlock.parent.mkdir(parents=True)
    assert clear_stale_dvc_lock(paths) is False  # no lock
    paths.dvc_rwlock.write_text(json.dumps({"read": {}, "write": {}}))  # what DVC leaves after every finished run
    assert clear_stale_dvc_lock(paths) is False and paths.dvc_rwlock.exists()  # nothing held: nothing removed
    paths.dvc_rwlock.write_text(json.dumps({"write": {"data/prepared": {"pid": os.getpid(), "cmd": "dvc repro"}}}))
    assert clear_stale_dvc_lock(paths) is False and paths.dvc_rwlock.exists()  # a live holder keeps it
    import time

    import psutil

    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not reaped: a killed dvc's state
        assert time.time() < deadline, "the child never became a zombie"
        time.sleep(0.05)
    paths.dvc_rwlock.write_text(
        json.dumps(
            {
                "write": {"data/prepared": {"pid": zombie.pid, "cmd": "dvc repro"}},
                "read": {"data/raw": [{"pid": 2**22 + 7, "cmd": "dvc repro"}]},
            }
        )
    )
    assert clear_stale_dvc_lock(paths) is True and not paths.dvc_rwlock.exists()
    zombie.wait()


def test_a_challenger_that_wins_overall_but_loses_a_segment_is_not_promoted():
    d = decide(
        "1",
        "2",
        0.70,
        0.80,
        margin=0.01,
        segment_drops={"all": -0.10, "new variant": 0.12, "rare": None},
        max_segment_drop=0.05,
    )
    assert not d.promote and d.failed == ["segments"]
    assert "failed guardrails: segments ('new variant' loses 0.1200 recall, more than 0.05)" in d.text
    assert d.checks["segments"]["too_few_to_judge"] == ["rare"]
    ok = decide("1", "2", 0.70, 0.80, margin=0.01, segment_drops={"new variant": 0.04}, max_segment_drop=0.05)
    assert ok.promote and ok.failed == []


def test_a_flagged_pool_is_not_promoted_unless_allowed():
    flagged = decide("1", "2", 0.60, 0.80, margin=0.01, pool_flags=["detection_auc"])
    assert not flagged.promote and flagged.failed == ["pool"]
    assert "pool (flagged by the quality gate: detection_auc; set retrain.allow_flagged_pool: true" in flagged.text
    assert decide("1", "2", 0.60, 0.80, margin=0.01, pool_flags=["detection_auc"], allow_flagged_pool=True).promote
    assert decide("1", "2", 0.60, 0.80, margin=0.01, pool_flags=None).promote  # real rows only: no pool
    first = decide(None, "1", None, 0.5, 0.01, pool_flags=["dcr_ratio"])
    assert not first.promote and first.text.startswith("no champion crowned: failed guardrails: pool")


def test_every_failed_check_is_named_and_nothing_promoted():
    d = decide(
        "1",
        "2",
        0.70,
        0.705,
        margin=0.01,
        segment_drops={"s": 0.2},
        max_segment_drop=0.05,
        pool_flags=["exact_copy_share"],
    )
    assert not d.promote and d.failed == ["pool", "margin", "segments"]
    assert "margin (gain +0.0050 not above 0.01)" in d.text and "segments (" in d.text and "pool (" in d.text


def test_pool_flags_of_the_challenger(tmp_path):
    import json

    from pipeline.core.paths import Paths
    from pipeline.ops.guardrails import pool_flags

    paths = Paths.at(tmp_path)

    def write(seed, checks):
        paths.quality_report("ctgan", seed).parent.mkdir(parents=True)
        paths.quality_report("ctgan", seed).write_text(json.dumps({"checks": checks}))

    write(0, {"detection_auc": {"passed": False}, "dcr_ratio": {"passed": True}, "quality_score": {"passed": None}})
    assert pool_flags(paths, "ctgan@0.5", [0]) == ["detection_auc"]
    assert pool_flags(paths, "baseline", [0]) is None and pool_flags(paths, "reweight", [0]) is None
    assert pool_flags(paths, "tvae@0.25", [0]) == ["quality report missing"]
    # several fits: a check fails when any fit's pool fails it; a missing fit is a missing report
    assert pool_flags(paths, "ctgan@0.5", [0, 1]) == ["quality report missing"]
    write(1, {"detection_auc": {"passed": True}, "dcr_ratio": {"passed": False}, "quality_score": {"passed": None}})
    assert pool_flags(paths, "ctgan@0.5", [0, 1]) == ["detection_auc", "dcr_ratio"]
    assert pool_flags(paths, "ctgan@0.5", [1]) == ["dcr_ratio"]


def test_a_challenger_that_loses_recall_under_attack_is_not_promoted_and_the_tactic_is_named():
    recalls = {"amount_x0.5": (0.70, 0.69), "amount_x0.25": (0.52, 0.41), "business_hours": (0.30, 0.60)}
    d = decide("1", "2", 0.70, 0.80, margin=0.01, redteam_recalls=recalls, max_redteam_drop=0.05)
    assert not d.promote and d.failed == ["redteam"]
    assert d.text == (
        "kept champion: failed guardrails: redteam ('amount_x0.25': challenger 0.4100 vs champion "
        "0.5200, more than 0.05 lower)"
    )
    assert d.checks["redteam"]["worst_tactic"] == "amount_x0.25" and d.checks["redteam"]["drops"]["amount_x0.5"] == 0.01
    # within the allowed drop under every tactic (and no tactics at all): promoted
    ok = decide(
        "1", "2", 0.70, 0.80, margin=0.01, redteam_recalls={"amount_x0.25": (0.52, 0.48)}, max_redteam_drop=0.05
    )
    assert ok.promote and ok.failed == [] and ok.checks["redteam"]["passed"]
    assert decide("1", "2", 0.70, 0.80, margin=0.01, redteam_recalls={}, max_redteam_drop=0.05).promote
    # a first champion has nothing to lose recall against
    assert decide(None, "1", None, 0.5, 0.01, redteam_recalls={"t": (0.9, 0.1)}, max_redteam_drop=0.05).promote


def test_the_guardrail_scores_attacked_copies_of_the_new_test_frauds_only():
    from pipeline.config.params import validate
    from pipeline.data.contract import infer_schema
    from pipeline.ops.guardrails import attack_recalls, attacked_frauds
    from tests.helpers import base_params

    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.1).astype(int)
    df = pd.DataFrame(
        {"amount": rng.lognormal(3, 0.5, 3000) * np.where(y == 1, 5.0, 1.0), "v": rng.normal(0, 1, 3000), "y": y}
    )
    train, valid, test = df.iloc[:1500], df.iloc[1500:2200], df.iloc[2200:]
    schema = infer_schema(train, "y")
    params = validate(
        base_params(
            redteam={
                "tactics": [
                    {"name": "x1", "feature": "amount", "op": "scale", "value": 1.0},
                    {"name": "x0.1", "feature": "amount", "op": "scale", "value": 0.1},
                ]
            }
        )
    )
    attacked = attacked_frauds(params, schema, train, test)
    assert list(attacked) == ["x1", "x0.1"] and all((f["y"] == 1).all() for f in attacked.values())

    class AmountScorer:  # a champion that alerts on large amounts, scored through the serving interface
        def scores(self, frame):
            return frame["amount"].to_numpy()

    r = attack_recalls(AmountScorer(), schema, valid, attacked, 0.01)
    assert r["x1"] > 0.5 and r["x0.1"] < r["x1"] / 2
    assert attack_recalls(AmountScorer(), schema, valid, {}, 0.01) == {}


def test_a_failed_dvc_repro_names_the_stage_and_its_one_line_cause():
    from pipeline.ops.dvc_runner import failure_cause

    output = (
        "Running stage 'prepare':\n> python -m pipeline prepare\n"
        "error: the train split holds 3 fraud(s) in 900 rows, fewer than split.min_frauds=20; provide more data\n"
        "ERROR: failed to reproduce 'prepare': failed to run: python -m pipeline prepare, exited with 2\n"
    )
    assert failure_cause(output) == (
        " in stage prepare: error: the train split holds 3 fraud(s) in 900 rows, fewer "
        "than split.min_frauds=20; provide more data"
    )
    # a stage that died without its one line (a bug's traceback): DVC's line; no output at all: nothing to add
    assert failure_cause(
        "Traceback ...\nKeyError: 'x'\nERROR: failed to reproduce 'train': failed to run: "
        "python -m pipeline train, exited with 1\n"
    ) == (" in stage train: ERROR: failed to reproduce 'train': failed to run: python -m pipeline train, exited with 1")
    assert failure_cause("") == ""
