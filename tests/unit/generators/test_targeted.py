"""Targeted generation: every generator samples exact counts per segment, the pool's segment mix changes, and a
condition that cannot be met is one line, not a hang."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import ConfigError, GeneratorError
from pipeline.generators import generator_names, make_generator
from pipeline.generators.targeting import allocate, pool_names, split_name
from tests.helpers import tiny
from tests.unit.generators.test_contract import LABEL, SCHEMA, make_rows

SCENARIOS = {"common": 40, "rare": 8, "emerging": 12}  # seed rows per value of a meta column


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    legit = make_rows(rng, 400, 0)
    seed = make_rows(rng, sum(SCENARIOS.values()), 1)
    scen = np.repeat(list(SCENARIOS), list(SCENARIOS.values()))
    seed["amount"] = np.where(scen == "emerging", seed["amount"] * 20, seed["amount"])  # a distinct pattern
    train = pd.concat([legit, seed], ignore_index=True)
    seed_set = seed.drop(columns=LABEL).reset_index(drop=True)
    return train, seed_set, pd.Series(scen, name="scenario")


@pytest.mark.parametrize("name", generator_names())
def test_targeted_pool_has_exact_counts_per_segment(name, data):
    train, seed_set, scen = data
    gen = make_generator(name, tiny(name)).fit(seed_set, SCHEMA, train=train, seed=1, target=scen)
    assert gen.target_counts() == {"common": 40, "emerging": 12, "rare": 8}
    rows = gen.sample_targeted({"emerging": 30, "rare": 10}, seed=0)
    assert rows["scenario"].value_counts().to_dict() == {"emerging": 30, "rare": 10}
    assert list(rows.columns) == SCHEMA.feature_names + ["scenario"]
    assert rows[SCHEMA.feature_names].dtypes.equals(gen.sample(5, seed=0)[SCHEMA.feature_names].dtypes)
    again = gen.sample_targeted({"emerging": 30, "rare": 10}, seed=0)
    pd.testing.assert_frame_equal(rows, again)  # seeded


@pytest.mark.parametrize("name", ["gaussian_copula", "smote"])
def test_targeting_changes_the_segment_mix_of_the_pool(name, data):
    """The targeted pool follows the allocation; for SDV, the untargeted pool of the same model follows the seed
    set's mix instead, and the emerging segment's rows carry its pattern (large amounts)."""
    train, seed_set, scen = data
    gen = make_generator(name, tiny(name)).fit(seed_set, SCHEMA, train=train, seed=1, target=scen)
    counts = allocate(gen.target_counts(), 120, {"column": "scenario", "policy": "balance"})
    targeted = gen.sample_targeted(counts, seed=0)
    mix = targeted["scenario"].value_counts()
    assert mix["rare"] > mix.get("common", 0) and mix["emerging"] > mix.get("common", 0)
    if name == "gaussian_copula":
        plain = gen.sample(120, seed=0)["scenario"].value_counts(normalize=True)
        assert plain["common"] > 0.4  # the seed mix (40 of 60) ...
        assert mix.get("common", 0) / 120 < 0.2  # ... versus the topped-up mix
    emerging = targeted.loc[targeted["scenario"] == "emerging", "amount"].median()
    common = seed_set.loc[(scen == "common").to_numpy(), "amount"].median()
    assert emerging > 3 * common


def test_a_categorical_feature_can_be_the_target(data):
    train, seed_set, _ = data
    target = seed_set["channel"].rename("channel")
    for name in ("gaussian_copula", "smote"):
        gen = make_generator(name, tiny(name)).fit(seed_set, SCHEMA, train=train, seed=1, target=target)
        rows = gen.sample_targeted({"atm": 15}, seed=0)
        assert (rows["channel"] == "atm").all() and len(rows) == 15 and list(rows.columns) == SCHEMA.feature_names


def test_unmeetable_conditions_are_one_line_and_fast(data, monkeypatch):
    train, seed_set, scen = data
    gen = make_generator("gaussian_copula", tiny("gaussian_copula")).fit(
        seed_set, SCHEMA, train=train, seed=1, target=scen
    )
    with pytest.raises(GeneratorError, match="'unknown', a value no seed fraud has"):
        gen.sample_targeted({"unknown": 5})
    # SDV gives up on a condition (its reject sampling found no row): one line naming the value, quickly
    calls = []

    def gives_up(*a, **k):
        calls.append(k.get("max_tries_per_batch"))
        raise ValueError("Unable to sample any rows for the given conditions. Try increasing `max_tries_per_batch`")

    monkeypatch.setattr(gen._synthesizer, "sample_from_conditions", gives_up)
    with pytest.raises(GeneratorError) as err:
        gen.sample_targeted({"rare": 5})
    assert calls == [gen.max_condition_tries]  # one bounded attempt, no retry loop: it fails fast
    text = str(err.value)
    assert "could not sample 5 rows with scenario='rare'" in text and "augment.target.weights" in text
    assert "\n" not in text
    # SDV returns fewer rows than asked for: also one line
    monkeypatch.setattr(gen._synthesizer, "sample_from_conditions", lambda *a, **k: seed_set.head(2))
    with pytest.raises(GeneratorError, match="made only 2 of 5 rows with scenario='rare'"):
        gen.sample_targeted({"rare": 5})


def test_a_segment_too_small_to_interpolate(data):
    train, seed_set, scen = data
    one = scen.copy()
    one.iloc[0] = "single"
    gen = make_generator("smote", tiny("smote")).fit(seed_set, SCHEMA, train=train, seed=1, target=one)
    with pytest.raises(GeneratorError, match="cannot oversample scenario='single' on its own: it has 1 seed row"):
        gen.sample_targeted({"single": 3})
    copies = make_generator("random_oversample").fit(seed_set, SCHEMA, train=train, seed=1, target=one)
    assert len(copies.sample_targeted({"single": 3})) == 3


def test_untargeted_fit_cannot_sample_targeted(data):
    train, seed_set, _ = data
    gen = make_generator("smote", tiny("smote")).fit(seed_set, SCHEMA, train=train, seed=1)
    with pytest.raises(GeneratorError, match="fitted without a target column"):
        gen.sample_targeted({"a": 1})


def test_numerical_feature_target_is_refused(data):
    train, seed_set, _ = data
    with pytest.raises(GeneratorError, match="'amount' is a numerical feature"):
        make_generator("smote").fit(seed_set, SCHEMA, train=train, target=seed_set["amount"])


# -- allocation --------------------------------------------------------------------------
def test_balance_tops_up_the_smallest_segments_first():
    seeds = {"a": 500, "b": 300, "c": 100, "d": 70}
    assert allocate(seeds, 0, {"column": "s", "policy": "balance"}) == {"a": 0, "b": 0, "c": 0, "d": 0}
    assert allocate(seeds, 20, {"column": "s", "policy": "balance"}) == {"a": 0, "b": 0, "c": 0, "d": 20}
    got = allocate(seeds, 500, {"column": "s", "policy": "balance"})
    assert sum(got.values()) == 500 and got["a"] == 0
    final = {k: seeds[k] + got[k] for k in seeds if got[k]}
    assert max(final.values()) - min(final.values()) <= 1  # topped-up segments end level
    big = allocate(seeds, 2000, {"column": "s", "policy": "balance"})
    assert sum(big.values()) == 2000 and all(v > 0 for v in big.values())


def test_weights_allocation_and_unknown_values():
    seeds = {"a": 50, "b": 10, "missing": 3}
    assert allocate(seeds, 10, {"column": "s", "policy": "weights", "weights": {"b": 1.0}}) == {"a": 0, "b": 10}
    assert allocate(seeds, 9, {"column": "s", "policy": "weights", "weights": {"a": 1.0, "b": 2.0}}) == {"a": 3, "b": 6}
    with pytest.raises(ConfigError, match="names 'z', which no seed fraud has in s"):
        allocate(seeds, 10, {"column": "s", "policy": "weights", "weights": {"z": 1.0}})
    with pytest.raises(ConfigError, match="missing in every seed fraud"):
        allocate({"missing": 5}, 3, {"column": "s", "policy": "balance"})


def test_pool_names():
    p = {"generators": {"smote": {}, "ctgan": {}}, "augment": {"target": None}}
    assert pool_names(p) == ["smote", "ctgan"]
    p["augment"]["target"] = {"column": "x", "policy": "balance", "weights": None}
    assert pool_names(p) == ["smote", "ctgan", "smote+target", "ctgan+target"]
    assert split_name("smote+target") == ("smote", True) and split_name("smote") == ("smote", False)


def test_a_targeted_pool_the_generator_cannot_make_is_left_out_with_its_reason(tmp_path, monkeypatch):
    """sample@G-F reports the failure instead of stopping the pipeline; train leaves `G+target` out and says why."""
    import json

    from pipeline.core.paths import Paths
    from pipeline.experiment.plan import build_plan

    paths = Paths.at(tmp_path)
    for seed in (0, 1):
        paths.quality_report("tvae", seed).parent.mkdir(parents=True)
        targeted = (
            {"failed": "tvae could not sample 927 rows with fraud_scenario='1'", "passed": False}
            if seed
            else {"checks": {}, "passed": True}
        )
        paths.quality_report("tvae", seed).write_text(json.dumps({"checks": {}, "passed": True, "targeted": targeted}))
    params = {
        "generators": {"tvae": {}},
        "quality": {"exclude_failed": False},
        "augment": {
            "fit_seeds": [0, 1],
            "shares": [0, 0.5],
            "target": {"column": "fraud_scenario", "policy": "balance"},
        },
        "detector": {"seeds": [0]},
    }
    plan = build_plan(params, paths)
    assert plan.excluded == {
        "tvae+target": "could not be sampled: tvae could not sample 927 rows with fraud_scenario='1'"
    }
    assert [a.id for a in plan.arms] == ["baseline", "reweight", "tvae@0.5"] and plan.blended_pools == ["tvae"]


def test_sample_stage_refuses_a_model_fitted_for_another_target(tmp_path, data):
    """Run by hand (outside dvc, which refits on a target change), a stale model must not be sampled for another
    column: one line, nothing written."""
    from pipeline.core.paths import Paths
    from pipeline.core.schema import Schema
    from pipeline.stages import sample

    train, seed_set, scen = data
    paths = Paths.at(tmp_path)
    (tmp_path / "data" / "prepared").mkdir(parents=True)
    SCHEMA.save(paths.schema)
    train.assign(scenario=np.r_[["none"] * (len(train) - len(scen)), scen.to_numpy()]).to_parquet(paths.split("train"))
    train.to_parquet(paths.split("valid"))
    gen = make_generator("smote", tiny("smote")).fit(
        seed_set, Schema.load(paths.schema), train=train, seed=0, target=scen
    )
    gen.save(paths.generator_model("smote", 0))
    params = {
        "augment": {
            "shares": [0.5],
            "sample_seed": 0,
            "target": {"column": "channel", "policy": "balance", "weights": None},
        },
        "quality": {
            k: None
            for k in (
                "min_quality_score",
                "max_quality_score_drop",
                "max_exact_copy_share",
                "min_dcr_ratio",
                "max_detection_auc",
                "max_detection_auc_excess",
            )
        },
    }
    with pytest.raises(
        GeneratorError,
        match=r"was fitted for 'scenario', but augment.target.column is 'channel'; "
        r"refit it \(dvc repro fit@smote-0\)",
    ):
        sample.run(params, paths, "smote", 0)
    assert not paths.quality_report("smote", 0).exists() and not paths.pools("smote", 0).exists()
