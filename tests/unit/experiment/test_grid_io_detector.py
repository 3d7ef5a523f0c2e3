"""Small modules: the experimental grid, atomic writes, and the detector's train/save/load/score round trip."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import DataError
from pipeline.core.files import atomic_path, finite_or_none, write_json
from pipeline.experiment.detector import load_detector, predict_scores, save_detector, train_detector
from pipeline.experiment.grid import AUGMENTED, BASELINE, REWEIGHT, Arm, build_grid


def test_grid_has_both_baselines_and_every_generator_at_every_positive_share():
    grid = build_grid(["ctgan", "smote"], [0.0, 0.5, 0.25], excluded={"smote"})
    assert [a.id for a in grid] == ["baseline", "reweight", "ctgan@0.5", "ctgan@0.25"]
    assert grid[0] == Arm(BASELINE) and grid[1].kind == REWEIGHT and grid[2].kind == AUGMENTED
    assert grid[2].title == "ctgan @ 50%" and grid[0].title == "real-only baseline"
    assert grid[2].dirname == "ctgan__s0.5"


def test_targeted_pools_are_arms_beside_the_untargeted_ones():
    grid = build_grid(["ctgan", "smote", "ctgan+target", "smote+target"], [0.5], excluded={"smote+target"})
    assert [a.id for a in grid] == ["baseline", "reweight", "ctgan@0.5", "smote@0.5", "ctgan+target@0.5"]
    assert grid[-1].title == "ctgan+target @ 50%" and grid[-1].dirname == "ctgan+target__s0.5"


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": np.float64(1.5), "b": np.int64(2), "c": float("nan")})
    assert json.loads(target.read_text()) == {"a": 1.5, "b": 2, "c": None}
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert json.loads(target.read_text())["a"] == 1.5  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


@pytest.mark.parametrize("x, expected", [(1, 1.0), ("2.5", 2.5), (float("inf"), None), (None, None), ("x", None)])
def test_finite_or_none(x, expected):
    assert finite_or_none(x) == expected


def _data(seed, n=600):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    X = pd.DataFrame(
        {"a": rng.normal(size=n) + 2 * y, "c": pd.Categorical(rng.choice(["u", "v"], n), categories=["u", "v"])}
    )
    return X, y


def test_detector_trains_early_stops_on_valid_and_round_trips(tmp_path):
    X, y = _data(0)
    Xv, yv = _data(1)
    params = {"n_estimators": 50, "max_depth": 3, "early_stopping_rounds": 5, "n_jobs": 1}
    model, info = train_detector(X, y, Xv, yv, params, seed=0)
    assert 0 <= info["best_iteration"] < 50 and 0 < info["valid_aucpr"] <= 1 and info["scale_pos_weight"] == 1.0
    scores = predict_scores(model, Xv)
    assert scores.shape == (len(Xv),) and np.all((scores >= 0) & (scores <= 1))
    assert scores[yv == 1].mean() > scores[yv == 0].mean()
    save_detector(model, tmp_path / "m.json")
    np.testing.assert_allclose(predict_scores(load_detector(tmp_path / "m.json"), Xv), scores)
    again, _ = train_detector(X, y, Xv, yv, params, seed=0)
    np.testing.assert_array_equal(predict_scores(again, Xv), scores)  # same seed, same detector


def test_detector_needs_both_classes():
    X, y = _data(0)
    with pytest.raises(DataError, match="single class"):
        train_detector(X, np.zeros_like(y), X, y, {"n_estimators": 5}, seed=0)
    with pytest.raises(DataError, match="not found"):
        load_detector("/nonexistent/model.json")


def test_a_split_switches_between_one_file_and_parts(tmp_path):
    """data.partition_rows set, then unset (and back): each write replaces the other shape whole."""
    import pandas as pd

    from pipeline.core.files import write_parquet

    df = pd.DataFrame({"a": range(10), "b": list("abcdefghij")})
    path = tmp_path / "train.parquet"
    write_parquet(path, df, partition_rows=4)
    assert sorted(p.name for p in path.iterdir()) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)
    write_parquet(path, df)
    assert path.is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)
    write_parquet(path, df, partition_rows=100)
    assert [p.name for p in path.iterdir()] == ["part-00000.parquet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
