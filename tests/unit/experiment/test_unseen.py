"""experiment.unseen: held-out variants never reach a training input, cells are cached, verdicts and sentences."""

import numpy as np
import pandas as pd
import pytest

import pipeline.experiment.cells as cells
from pipeline.core.cache import ResultCache
from pipeline.core.errors import DataError
from pipeline.core.files import read_json
from pipeline.data.contract import infer_schema
from pipeline.experiment.cells import bits
from pipeline.experiment.metrics import VERDICT_HELPS, VERDICT_NONE
from pipeline.experiment.unseen import (
    FAILED,
    REAL_ONLY,
    TOO_FEW,
    Setup,
    headline,
    judge,
    min_judgeable,
    run_cells,
    sign_test_p,
    unseen_markdown,
    unseen_table,
    variant_sentence,
    without_variant,
)
from pipeline.generators.base import Generator
from pipeline.generators.registry import split_type
from pipeline.stages import unseen as stage
from tests.helpers import base_params, write_prepared

LABEL = "y"
CANARY = 987654.321
DET = {
    "n_estimators": 40,
    "max_depth": 3,
    "learning_rate": 0.3,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "min_child_weight": 1.0,
    "early_stopping_rounds": 10,
    "n_jobs": 1,
}
EV = {"n_boot": 300, "seed": 0, "ci": 0.95}


def variant_table(n: int = 7500, seed: int = 0) -> pd.DataFrame:
    """Legitimate rows plus three fraud variants, each with its own signature: A a large amount, B a high v1,
    C a high count. Only A's frauds carry the canary value in `marker`."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.07).astype(int)
    kind = np.where(y == 1, rng.choice(["A", "B", "C"], n), "none")
    df = pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(3, 0.6, n) * np.where(kind == "A", 6.0, 1.0), 2),
            "v1": rng.normal(0, 1, n) + np.where(kind == "B", 3.0, 0.0),
            "count": rng.poisson(3, n) + np.where(kind == "C", 6, 0),
            "channel": rng.choice(["web", "pos", "atm"], n),
            "marker": np.where(kind == "A", CANARY, rng.normal(0, 1, n)),
            "kind": kind,
            LABEL: y,
        }
    )
    return df


@pytest.fixture(scope="module")
def splits():
    df = variant_table()
    train, valid, test = (df.iloc[a:b].reset_index(drop=True) for a, b in ((0, 4500), (4500, 6000), (6000, 7500)))
    return train, valid, test, infer_schema(train, LABEL, meta=["kind"])


def setup(generators=None, shares=(0.5,), seeds=(0,), entry="kind") -> Setup:
    generators = generators or {"gaussian_copula": {"default_distribution": "norm"}, "smote": {"k_neighbors": 4}}
    return Setup(
        entry=entry,
        generators={g: split_type(g, hp) for g, hp in generators.items()},
        shares=list(shares),
        fit_seeds=[0],
        seeds=list(seeds),
        detector=DET,
        budget=0.01,
        sample_seed=0,
    )


def _has_canary(df: pd.DataFrame) -> bool:
    num = df.select_dtypes("number")
    return bool(np.isclose(num.to_numpy(dtype=float), CANARY, rtol=0, atol=1e-3).any()) if not num.empty else False


def test_a_held_out_variant_reaches_no_generator_no_early_stopping_and_no_threshold(splits, tmp_path, monkeypatch):
    train, valid, test, schema = splits
    assert _has_canary(train[train["kind"] == "A"]) and _has_canary(valid) and _has_canary(test)
    current = {"variant": "?"}
    seen: list[tuple[str, str, pd.DataFrame]] = []

    def log(line: str) -> None:  # run_cells announces each cell before computing it
        current["variant"] = (
            line.rsplit("=", 1)[1]
            if "without kind=" in line
            else (current["variant"] if "(fit seed" in line else "all")
        )

    real_fit, real_train, real_predict = Generator.fit, cells.train_detector, cells.predict_scores

    def spy_fit(self, seed_set, schema, train=None, seed=0, target=None):
        seen.extend(
            [
                (current["variant"], "generator seed set", seed_set.copy()),
                (current["variant"], "generator train", train.copy()),
            ]
        )
        return real_fit(self, seed_set, schema, train=train, seed=seed, target=target)

    def spy_train(X_train, y_train, X_valid, y_valid, params, seed, scale_pos_weight=None):
        seen.extend(
            [
                (current["variant"], "detector train", X_train.copy()),
                (current["variant"], "early stopping", X_valid.copy()),
            ]
        )
        return real_train(X_train, y_train, X_valid, y_valid, params, seed, scale_pos_weight)

    def spy_predict(model, X):
        seen.append((current["variant"], "scored", X.copy()))
        return real_predict(model, X)

    monkeypatch.setattr(Generator, "fit", spy_fit)
    monkeypatch.setattr(cells, "train_detector", spy_train)
    monkeypatch.setattr(cells, "predict_scores", spy_predict)
    result = run_cells(train, valid, test, schema, setup(), ResultCache(tmp_path, "data"), log=log)
    assert result["variants"] == ["A", "B", "C"]
    in_a = [(what, df) for v, what, df in seen if v == "A"]
    assert {w for w, _ in in_a} == {
        "generator seed set",
        "generator train",
        "detector train",
        "early stopping",
        "scored",
    }
    n_test_fraud = int(test[LABEL].sum())
    for what, df in in_a:
        if what == "scored" and len(df) == n_test_fraud:
            assert _has_canary(df)  # the test frauds are scored: A's test frauds carry the canary
        else:  # training rows, seed sets, early stopping and the validation rows thresholds come from
            assert not _has_canary(df), what
    # in another variant's cells A is known: its canary is in the training rows (the spy can see it)
    assert any(_has_canary(df) for v, what, df in seen if v == "B" and what == "detector train")


def test_seed_rows_copied_unchanged_give_no_gain_beyond_noise(splits, tmp_path):
    train, valid, test, schema = splits
    result = run_cells(
        train,
        valid,
        test,
        schema,
        setup({"random_oversample": {}}, shares=(0.5, 0.75), seeds=(0, 1)),
        ResultCache(tmp_path, "data"),
        log=lambda _: None,
    )
    table = unseen_table(result, EV)
    aug = table[table["config"] != REAL_ONLY]
    assert len(aug) == 6 and VERDICT_HELPS not in set(aug["verdict"]), aug[["variant", "config", "diff", "verdict"]]


def test_the_cache_reuses_cells_and_runs_only_new_ones(splits, tmp_path, monkeypatch):
    train, valid, test, schema = splits
    first = run_cells(train, valid, test, schema, setup(), ResultCache(tmp_path, "data"), log=lambda _: None)
    assert (first["computed"], first["reused"]) == (10, 0)  # seen reference + 3 x (real-only + 2 generators)
    calls = {"fit": 0, "train": 0}
    real_fit, real_train = Generator.fit, cells.train_detector

    def count_fit(self, *a, **k):
        calls["fit"] += 1
        return real_fit(self, *a, **k)

    def count_train(*a, **k):
        calls["train"] += 1
        return real_train(*a, **k)

    monkeypatch.setattr(Generator, "fit", count_fit)
    monkeypatch.setattr(cells, "train_detector", count_train)
    again = run_cells(train, valid, test, schema, setup(), ResultCache(tmp_path, "data"), log=lambda _: None)
    assert (again["computed"], again["reused"], calls) == (0, 10, {"fit": 0, "train": 0})
    assert unseen_table(again, EV).equals(unseen_table(first, EV))
    wider = run_cells(
        train, valid, test, schema, setup(shares=(0.5, 0.25)), ResultCache(tmp_path, "data"), log=lambda _: None
    )
    # only the new share's 6 cells ran; their generators came from the cache, one detector each
    assert (wider["computed"], wider["reused"], calls) == (6, 10, {"fit": 0, "train": 6})
    # a generator renamed (same type and settings) reuses its cells under the new name
    renamed = run_cells(
        train,
        valid,
        test,
        schema,
        setup({"copula": {"type": "gaussian_copula", "default_distribution": "norm"}}),
        ResultCache(tmp_path, "data"),
        log=lambda _: None,
    )
    assert renamed["computed"] == 0 and {c["config"] for c in renamed["cells"]} == {REAL_ONLY, "copula@0.5"}
    # other data is another key: nothing reused
    other = run_cells(train, valid, test, schema, setup(), ResultCache(tmp_path, "other data"), log=lambda _: None)
    assert other["reused"] == 0


def test_without_variant_drops_only_that_variants_frauds(splits):
    train = splits[0]
    cut, n = without_variant(train, "kind", LABEL, "B")
    assert n == int(((train["kind"] == "B") & (train[LABEL] == 1)).sum()) > 0
    assert len(cut) == len(train) - n and not (cut["kind"] == "B").any()
    assert (cut[LABEL] == 0).sum() == (train[LABEL] == 0).sum()  # every legitimate row kept
    binned, n_bin = without_variant(train, {"column": "amount", "bins": [0, 100]}, LABEL, ">= 100")
    assert n_bin == int(((train["amount"] >= 100) & (train[LABEL] == 1)).sum())


def _hits(rows: list[int], seeds: int = 2) -> np.ndarray:
    return np.tile(np.asarray(rows, dtype=bool), (1, seeds, 1))


def test_verdicts_come_from_the_interval_confirmed_by_the_sign_test():
    # 40 test frauds, 20 more caught by the config: a clear effect, whatever the count
    ref, cfg = _hits([0] * 40), _hits([1] * 20 + [0] * 20)
    assert judge(cfg, ref, EV, 0.95)["verdict"] == VERDICT_HELPS
    # 10 test frauds, 4 caught more: the bootstrap interval excludes 0, but 4 of 4 one way is p = 0.125
    small_ref, small_cfg = _hits([0] * 10), _hits([1] * 4 + [0] * 6)
    b = judge(small_cfg, small_ref, EV, 0.95)
    assert b["diff_lo"] > 0 and b["sign_p"] == pytest.approx(0.125) and b["verdict"] == VERDICT_NONE
    # 5 frauds: not even all 5 one way could be significant at 95%
    assert min_judgeable(0.95) == 6
    assert judge(_hits([1] * 5), _hits([0] * 5), EV, 0.95)["verdict"] == TOO_FEW
    # 6 frauds all caught by the config only: significant (p = 0.03), so a count floor would have hidden it
    assert judge(_hits([1] * 6), _hits([0] * 6), EV, 0.95)["verdict"] == VERDICT_HELPS
    assert sign_test_p(_hits([1, 0]), _hits([1, 0])) == 1.0


def _result(hits_base: str, hits_cfg: str, variants=("A", "B"), of=None) -> dict:
    of = of or ["A"] * (len(hits_base) // 2) + ["B"] * (len(hits_base) - len(hits_base) // 2)
    head = {"n_train_removed": 30, "n_valid_removed": 10, "n_seed_frauds": 60}
    cs = [{"variant": None, "config": REAL_ONLY, "status": "ok", "hits": [[hits_base]], **head}]
    for v in variants:
        cs += [
            {"variant": v, "config": REAL_ONLY, "status": "ok", "hits": [[hits_base]], **head},
            {
                "variant": v,
                "config": "smote@0.5",
                "generator": "smote",
                "share": 0.5,
                "status": "ok",
                "n_synthetic": 60,
                "hits": [[hits_cfg]],
                **head,
            },
        ]
    return {
        "column": "kind",
        "variants": list(variants),
        "variant_of_test_fraud": of,
        "cells": cs,
        "seconds": 1.0,
        "computed": len(cs),
        "reused": 0,
    }


def test_sentences_say_helps_unchanged_and_uncatchable():
    # A: 20 frauds none caught by real-only, all by smote; B: 20 frauds caught by neither
    table = unseen_table(_result("0" * 40, "1" * 20 + "0" * 20), EV)
    by = {v: g for v, g in table.groupby("variant")}
    assert by["A"].set_index("config").loc["smote@0.5", "verdict"] == VERDICT_HELPS
    assert "smote at 50% raised it to 1.00" in variant_sentence(by["A"], "recall")
    assert "no generator made its pattern from the other variants' examples" in variant_sentence(by["B"], "recall")
    assert headline(table).startswith("Unseen attack variants (each of 2 values of kind held out")
    assert "for 1 of 2 judged variants" in headline(table)
    text = unseen_markdown(table, _result("0" * 40, "1" * 20 + "0" * 20), "recall", EV, feature=True, plot_name="p.png")
    assert "`kind` is itself a feature" in text and "| A | 20 | smote@0.5 |" in text


def test_a_variant_that_leaves_no_training_frauds_is_a_failed_cell_not_a_crash(splits, tmp_path):
    train, valid, test, schema = splits
    only_a = [df[(df[LABEL] == 0) | (df["kind"] == "A")].reset_index(drop=True) for df in (train, valid, test)]
    result = run_cells(
        *only_a, schema, setup({"smote": {"k_neighbors": 4}}), ResultCache(tmp_path, "d"), log=lambda _: None
    )
    table = unseen_table(result, EV)
    assert set(table["verdict"]) == {FAILED} and "no training frauds are left without kind=A" in table["reason"].iloc[0]
    assert "not run - no training frauds are left" in variant_sentence(table, "recall")


def _stage_project(tmp_path, splits, **unseen) -> tuple:
    paths = write_prepared(tmp_path, *splits)
    from pipeline.config.params import validate

    p = base_params()
    p["generators"] = {"smote": {"k_neighbors": 4}}
    p["detector"].update(DET)
    p["unseen"].update(generators=["smote"], **unseen)
    return validate(p), paths


def test_the_stage_writes_every_output_and_a_second_run_reuses_all(splits, tmp_path, capsys):
    params, paths = _stage_project(tmp_path, splits, column="kind")
    out = stage.run(params, paths)
    assert out["enabled"] and out["variants"] == 3 and sum(out["verdicts"].values()) == 3
    for f in (paths.unseen_table, paths.unseen_summary, paths.unseen_metrics, paths.unseen_plot):
        assert f.exists(), f
    assert read_json(paths.unseen_metrics)["per_variant"]["A"]["n_test_frauds"] > 0
    first = [f.read_bytes() for f in (paths.unseen_table, paths.unseen_summary, paths.unseen_metrics)]
    assert "unseen: 7 cells computed, 0 reused" in capsys.readouterr().out
    stage.run(params, paths)
    assert "unseen: 0 cells computed, 7 reused" in capsys.readouterr().out
    assert [f.read_bytes() for f in (paths.unseen_table, paths.unseen_summary, paths.unseen_metrics)] == first


def test_off_and_bad_columns(splits, tmp_path):
    params, paths = _stage_project(tmp_path, splits, column=None)
    assert stage.run(params, paths) == {"enabled": False}
    assert "The unseen-variant test is off" in paths.unseen_summary.read_text() and paths.unseen_plot.exists()
    params, paths = _stage_project(tmp_path, splits, column="nope")
    with pytest.raises(DataError, match=r"unseen.column names column 'nope', which the prepared data lacks"):
        stage.run(params, paths)
    params, paths = _stage_project(tmp_path, splits, column="amount")
    with pytest.raises(DataError, match=r"unseen.column 'amount' has \d+ distinct values among the test frauds"):
        stage.run(params, paths)


def test_bits_round_trip():
    h = np.array([True, False, True])
    assert cells.unbits(bits(h)).tolist() == h.tolist()
