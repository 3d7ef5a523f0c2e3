"""pipeline.experiment.scarcity: nested draws, one real cell on a small table, the sweep table and its sentences."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.cache import ResultCache
from pipeline.core.errors import GeneratorError
from pipeline.data.contract import infer_schema
from pipeline.experiment.cells import bits as _bits
from pipeline.experiment.scarcity import (
    ALL,
    FAILED,
    OK,
    SKIPPED,
    SweepGrid,
    draw_frauds,
    run_cell,
    run_cells,
    series_sentence,
    sweep_markdown,
    sweep_table,
)
from tests.helpers import tabular_frame

LABEL = "Class"
DET = {"n_estimators": 40, "max_depth": 3, "n_jobs": 1, "early_stopping_rounds": 10}
EV = {"n_boot": 300, "seed": 0, "ci": 0.95}


def test_draws_keep_every_legit_row_and_nest_in_n():
    df = tabular_frame(2000, seed=3)
    frauds = int(df[LABEL].sum())
    d25, d50 = draw_frauds(df, LABEL, 25, 0), draw_frauds(df, LABEL, 50, 0)
    assert int(d25[LABEL].sum()) == 25 and int(d50[LABEL].sum()) == 50
    assert (d25[LABEL] == 0).sum() == (df[LABEL] == 0).sum()
    key = ["Time", "amount", "v1"]
    f25 = set(map(tuple, d25.loc[d25[LABEL] == 1, key].to_numpy()))
    f50 = set(map(tuple, d50.loc[d50[LABEL] == 1, key].to_numpy()))
    assert f25 < f50  # nested: the 25 are among the 50 of the same draw
    assert d25["Time"].is_monotonic_increasing  # the original (time) order is kept
    other = draw_frauds(df, LABEL, 25, 1)
    assert set(map(tuple, other.loc[other[LABEL] == 1, key].to_numpy())) != f25  # another draw, other frauds
    assert int(draw_frauds(df, LABEL, ALL, 0)[LABEL].sum()) == frauds


@pytest.fixture(scope="module")
def splits():
    df = tabular_frame(6000, fraud_rate=0.04, seed=5).drop(columns="Time")
    train, valid, test = df.iloc[:3600], df.iloc[3600:4800], df.iloc[4800:]
    return (
        train.reset_index(drop=True),
        valid.reset_index(drop=True),
        test.reset_index(drop=True),
        infer_schema(train, LABEL),
    )


def test_a_real_cell(splits):
    train, valid, test, schema = splits
    out = run_cell(train, valid, test, schema, "smote", {"k_neighbors": 3}, 20, 0, [0.5], DET, [0, 1], 0.01, 0)
    assert out["status"] == OK and out["n_frauds"] == 20
    n_test = int(test[LABEL].sum())
    assert out["n_test_frauds"] == n_test
    assert len(out["baseline"]) == 2 and all(len(h) == n_test and set(h) <= {"0", "1"} for h in out["baseline"])
    assert list(out["augmented"]) == ["0.5"] and len(out["augmented"]["0.5"]) == 2
    # deterministic: the same cell gives the same hits
    again = run_cell(train, valid, test, schema, "smote", {"k_neighbors": 3}, 20, 0, [0.5], DET, [0, 1], 0.01, 0)
    assert again["baseline"] == out["baseline"] and again["augmented"] == out["augmented"]


def test_the_sweep_reuses_cached_cells_and_runs_only_new_ones(splits, tmp_path):
    train, valid, test, schema = splits
    cache = ResultCache(tmp_path, "data-v1")
    gens = {"smote": ("smote", {"k_neighbors": 3})}
    args = ([0.5], DET, [0], 0.01, 0, cache)
    first = run_cells(train, valid, test, schema, gens, [20], [0], *args, log=lambda _: None)
    assert (first["computed"], first["reused"]) == (1, 0) and first["cells"][(20, 0, "smote")]["status"] == OK
    # widening n runs only the new cell; the cached one comes back unchanged
    wider = run_cells(train, valid, test, schema, gens, [20, 30], [0], *args, log=lambda _: None)
    assert (wider["computed"], wider["reused"]) == (1, 1)
    assert wider["cells"][(20, 0, "smote")] == first["cells"][(20, 0, "smote")]
    # a renamed generator with the same type and settings reuses its cells under its new name
    renamed = run_cells(
        train, valid, test, schema, {"sm": ("smote", {"k_neighbors": 3})}, [20], [0], *args, log=lambda _: None
    )
    assert renamed["reused"] == 1 and renamed["cells"][(20, 0, "sm")]["generator"] == "sm"
    # other settings or other data: a new cell
    other = run_cells(
        train, valid, test, schema, {"smote": ("smote", {"k_neighbors": 4})}, [20], [0], *args, log=lambda _: None
    )
    assert other["computed"] == 1
    moved = run_cells(
        train,
        valid,
        test,
        schema,
        gens,
        [20],
        [0],
        [0.5],
        DET,
        [0],
        0.01,
        0,
        ResultCache(tmp_path, "data-v2"),
        log=lambda _: None,
    )
    assert moved["computed"] == 1


def test_n_at_or_above_the_seed_set_is_skipped(splits):
    train, valid, test, schema = splits
    n_seed = int(train[LABEL].sum())
    out = run_cell(train, valid, test, schema, "smote", {}, n_seed, 0, [0.5], DET, [0], 0.01, 0)
    assert out["status"] == SKIPPED and f"only {n_seed} frauds" in out["reason"]


def test_a_generator_that_cannot_fit_is_a_failed_cell_not_a_crash(splits, monkeypatch):
    train, valid, test, schema = splits
    from pipeline.generators.base import Generator

    def boom(self, *a, **k):
        raise GeneratorError("smote cannot fit 5 rows")

    monkeypatch.setattr(Generator, "fit", boom)
    out = run_cell(train, valid, test, schema, "smote", {}, 5, 0, [0.5], DET, [0], 0.01, 0)
    assert out["status"] == FAILED and out["reason"] == "smote cannot fit 5 rows"
    table = sweep_table({(5, 0, "smote"): {**out}}, SweepGrid([5], [0], ["smote"], [0.5]), EV)
    assert table.iloc[0]["verdict"] == "failed"
    assert "failed: smote cannot fit 5 rows" in sweep_markdown(table, "recall", {"ci": 0.95}, 1.0, [], "x.png")


def _cell(n, n_real, base, aug, n_rows=200, seeds=1):
    """A hand-built cell: the real-only detector alerts the first `base` test frauds, the augmented one `aug`."""

    def hits(k):
        return _bits(np.arange(n_rows) < k)

    return {
        "status": OK,
        "n_requested": n,
        "n_frauds": n_real,
        "baseline": [hits(base)] * seeds,
        "augmented": {"0.5": [hits(aug)] * seeds},
    }


def test_sweep_verdicts_and_the_sentence():
    # helps a lot below 100 frauds, nothing above
    spec = {25: (60, 120), 50: (90, 140), 100: (150, 151), ALL: (170, 170)}
    cells = {(n, r, "smote"): _cell(n, 400 if n == ALL else n, *spec[n]) for n in spec for r in (0, 1)}
    table = sweep_table(cells, SweepGrid(list(spec), [0, 1], ["smote"], [0.5]), EV)
    assert list(table["verdict"]) == ["helps", "helps", "no clear effect", "no clear effect"]
    assert table.iloc[0]["diff"] == pytest.approx(0.3)
    assert table.iloc[0]["baseline_recall"] == pytest.approx(0.3)
    text = series_sentence(table, "recall at 0.5% FPR")
    assert text.startswith(
        "below about 100 known frauds smote at 50% helps (recall at 0.5% FPR 0.60 vs 0.30 real-only at n = 25 (+100%"
    )
    assert text.endswith("from 100 up no clear effect.")
    md = sweep_markdown(
        table, "recall at 0.5% FPR", {"ci": 0.95}, 12.0, ["n = 800 (the seed set holds only 400)"], "lift.png"
    )
    assert "On this data, below about 100 known frauds" in md and "| smote@0.5 | all (400) |" in md
    assert "Not run: n = 800" in md


def test_sentences_for_flat_and_mixed_series():
    flat = {n: (100, 100) for n in (25, 50)}
    cells = {(n, 0, "g"): _cell(n, n, *flat[n]) for n in flat}
    t = sweep_table(cells, SweepGrid(list(flat), [0], ["g"], [0.5]), EV)
    assert series_sentence(t, "recall") == "g at 50%: no clear effect at any n from 25 to 50."
    mixed = {25: (100, 100), 50: (50, 150), 100: (150, 60)}
    cells = {(n, 0, "g"): _cell(n, n, *mixed[n]) for n in mixed}
    t = sweep_table(cells, SweepGrid(list(mixed), [0], ["g"], [0.5]), EV)
    assert series_sentence(t, "recall") == "g at 50%: helps at n = 50; hurts at n = 100; no clear effect at n = 25."
    md = sweep_markdown(t, "recall", {"ci": 0.95}, None, [], "x.png")
    assert md.splitlines()[2].startswith("On this data, g at 50%: helps at n = 50")


def test_skipped_cells_leave_no_row():
    cells = {
        (50, 0, "g"): {"status": SKIPPED, "n_requested": 50, "reason": "only 40"},
        (ALL, 0, "g"): _cell(ALL, 40, 10, 10),
    }
    t = sweep_table(cells, SweepGrid([50, ALL], [0], ["g"], [0.5]), EV)
    assert list(t["n_requested"]) == ["all"]
    assert isinstance(t, pd.DataFrame)


def test_the_exchange_rate_reads_augmented_recall_off_the_real_only_curve():
    from pipeline.experiment.scarcity import equivalent_n, exchange_sentence, exchange_table

    ns, curve = np.array([25.0, 50.0, 100.0, 200.0]), np.array([0.3, 0.45, 0.6, 0.6])
    assert equivalent_n(ns, curve, 0.45) == (50.0, "")
    assert equivalent_n(ns, curve, 0.525)[0] == pytest.approx(np.sqrt(50 * 100))  # halfway in log n
    assert equivalent_n(ns, curve, 0.7) == (200.0, "above") and equivalent_n(ns, curve, 0.2) == (25.0, "below")
    assert equivalent_n(ns, np.array([0.3, 0.5, 0.4, 0.6]), 0.45)[0] < 50  # made monotone (running max)
    # real-only: 60 / 90 / 120 of 200 test frauds at n = 25 / 50 / 100; at n = 25 the augmented detector catches
    # 90 - as many as real-only with 50 real frauds: its 25 synthetic rows (share 0.5) are worth 25 real frauds
    spec = {25: (60, 90), 50: (90, 90), 100: (120, 120)}
    cells = {(n, r, "g"): _cell(n, n, *spec[n]) for n in spec for r in (0, 1)}
    ex = exchange_table(cells, SweepGrid(list(spec), [0, 1], ["g"], [0.5]), EV).set_index("n_frauds")
    assert ex.loc[25, "n_equivalent"] == pytest.approx(50) and ex.loc[25, "worth"] == pytest.approx(1.0)
    assert ex.loc[25, "worth_lo"] <= 1.0 <= ex.loc[25, "worth_hi"]
    assert ex.loc[50, "worth"] == pytest.approx(0.0) and ex.loc[25, "gain_per_doubling"] == pytest.approx(0.15)
    text = exchange_sentence(ex.reset_index())  # said at the middle n of the sweep
    assert text.startswith("At 50 known frauds, 50 synthetic rows from g (share 50%) were worth about +0 real frauds")
    assert "doubling the known frauds to 100 would add +0.15 recall" in text
