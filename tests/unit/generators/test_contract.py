"""Contract every registered generator must meet, on a small mixed table with tiny hyperparameters."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import ConfigError, GeneratorError
from pipeline.core.schema import Feature, Schema
from pipeline.generators import GENERATORS, Generator, generator_names, make_generator
from tests.helpers import tiny

LABEL = "is_fraud"
CHANNELS = ["app", "atm", "pos", "web"]
SCHEMA = Schema(
    label=LABEL,
    features=[
        Feature("amount", "numerical", "float64"),
        Feature("score", "numerical", "float64"),
        Feature("n_items", "numerical", "int64"),
        Feature("channel", "categorical", "object", list(CHANNELS)),
    ],
)
N_SEED, N_LEGIT = 60, 400

FIT_SEED = 7


def make_rows(rng, n, fraud):
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3 + fraud, 1, n),
            "score": rng.normal(0.5 * fraud, 1, n),
            "n_items": rng.integers(1, 8 + 4 * fraud, n),
            "channel": rng.choice(CHANNELS, n, p=[0.4, 0.1, 0.2, 0.3] if fraud else [0.2, 0.2, 0.4, 0.2]),
            LABEL: fraud,
        }
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    train = pd.concat([make_rows(rng, N_LEGIT, 0), make_rows(rng, N_SEED, 1)], ignore_index=True)
    train.loc[[3, N_LEGIT + 5], "score"] = np.nan  # a little missingness, in both classes
    seed_set = train[train[LABEL] == 1].drop(columns=LABEL).reset_index(drop=True)
    return train, seed_set


@pytest.fixture(scope="module", params=generator_names())
def fitted(request, data):
    train, seed_set = data
    gen = make_generator(request.param, tiny(request.param))
    gen.fit(seed_set, SCHEMA, train=train, seed=FIT_SEED)
    return gen


# -- the contract, for every generator ----------------------------------------------------
def test_sample_has_rows_columns_and_dtypes(fitted, data):
    _, seed_set = data
    out = fitted.sample(37, seed=1)
    assert len(out) == 37
    assert list(out.columns) == SCHEMA.feature_names
    assert out.index.equals(pd.RangeIndex(37))
    expected = SCHEMA.conform(seed_set).dtypes
    assert out.dtypes.to_dict() == expected.to_dict()


def test_sample_keeps_seen_categories_and_integers(fitted, data):
    _, seed_set = data
    out = fitted.sample(200, seed=2)
    assert set(out["channel"].dropna()) <= set(seed_set["channel"])
    assert pd.api.types.is_integer_dtype(out["n_items"])
    values = out["n_items"].dropna().to_numpy(dtype=float)
    assert np.all(values == np.round(values))
    assert out["amount"].notna().any() and np.isfinite(out["amount"].dropna()).all()


def test_same_seed_same_rows_different_seed_different_rows(fitted):
    first = fitted.sample(37, seed=5)
    pd.testing.assert_frame_equal(first, fitted.sample(37, seed=5))
    assert not first.equals(fitted.sample(37, seed=6))


def test_refit_with_same_seed_gives_same_rows(fitted, data):
    train, seed_set = data
    again = make_generator(fitted.name, tiny(fitted.name))
    again.fit(seed_set, SCHEMA, train=train, seed=FIT_SEED)
    pd.testing.assert_frame_equal(again.sample(37, seed=3), fitted.sample(37, seed=3))


def test_global_rng_states_are_restored(fitted):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    fitted.sample(10, seed=4)
    assert np.array_equal(np.random.get_state()[1], before)


def test_save_load_round_trip(fitted, tmp_path):
    path = tmp_path / "gen.pkl"
    fitted.save(path)
    loaded = Generator.load(path)
    assert type(loaded) is type(fitted)
    assert loaded.get_parameters() == fitted.get_parameters()
    pd.testing.assert_frame_equal(loaded.sample(37, seed=9), fitted.sample(37, seed=9))
    assert [p.name for p in tmp_path.iterdir()] == ["gen.pkl"]  # no temporary file left


def test_get_parameters_is_passed_plus_defaults(fitted):
    cls = GENERATORS[fitted.name]
    expected = {**cls.hyperparameter_defaults(), **tiny(fitted.name)}
    assert fitted.get_parameters() == expected
    assert "max_categories" not in expected  # the input contract owns category limits, not generators
    for key, value in expected.items():
        assert getattr(fitted, key) == value


def test_fit_info(fitted):
    info = fitted.fit_info
    for key in ("fit_seconds", "rows", "columns", "epochs", "final_loss", "loss_curve"):
        assert key in info
    assert info["rows"] == N_SEED and info["columns"] == len(SCHEMA.feature_names)
    assert info["fit_seconds"] >= 0
    if fitted.name in ("ctgan", "tvae", "copulagan"):
        assert info["epochs"] == tiny(fitted.name)["epochs"]
        assert len(info["loss_curve"]) == info["epochs"]
        assert all(isinstance(row, dict) and "epoch" in row for row in info["loss_curve"])
        assert isinstance(info["final_loss"], float)
    else:
        assert info["epochs"] is None and info["final_loss"] is None and info["loss_curve"] == []
    json.dumps(info)  # JSON-able, for logging


def test_class_attributes(fitted):
    assert fitted.family in ("sdv", "oversampler", "forest")
    assert isinstance(fitted.min_rows, int) and fitted.min_rows >= 1
    if fitted.family == "sdv":  # the SDV class it wraps exists in the installed SDV
        import sdv.single_table

        assert hasattr(sdv.single_table, type(fitted).synthesizer_class)


def test_sample_zero_and_negative(fitted, data):
    empty = fitted.sample(0)
    assert list(empty.columns) == SCHEMA.feature_names and len(empty) == 0
    assert empty.dtypes.to_dict() == fitted.sample(3).dtypes.to_dict()
    with pytest.raises(GeneratorError, match="n >= 0"):
        fitted.sample(-1)


# -- validation and edge cases ------------------------------------------------------------
def test_unknown_generator_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        make_generator("gan9000", {})
    assert "gan9000" in str(err.value)
    for name in generator_names():
        assert name in str(err.value)


def test_registry_names():
    assert set(generator_names()) == {
        "ctgan",
        "tvae",
        "gaussian_copula",
        "copulagan",
        "smote",
        "borderline_smote",
        "adasyn",
        "random_oversample",
        "arf",
    }


def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(ConfigError) as err:
        make_generator("ctgan", {"epochz": 3})
    assert "epochz" in str(err.value) and "epochs" in str(err.value) and "batch_size" in str(err.value)


def test_old_max_categories_hyperparameter_points_to_the_data_contract():
    with pytest.raises(ConfigError, match="set data.max_categories in params.yaml instead"):
        make_generator("smote", {"max_categories": 10})


@pytest.mark.parametrize("bad", [{"epochs": -1}, {"epochs": 2.5}, {"verbose": "yes"}, {"generator_dim": []}])
def test_bad_hyperparameter_value(bad):
    with pytest.raises(ConfigError, match=list(bad)[0]):
        make_generator("ctgan", bad)


@pytest.mark.parametrize("name", generator_names())
def test_too_few_seed_rows(name, data):
    train, seed_set = data
    gen = make_generator(name, tiny(name))
    few = seed_set.iloc[: gen.min_rows - 1]
    with pytest.raises(GeneratorError) as err:
        gen.fit(few, SCHEMA, train=train)
    assert str(gen.min_rows) in str(err.value) and str(len(few)) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", generator_names())
def test_grouped_levels_and_odd_names(name, data):
    """Schemas the input contract writes: rare levels grouped into an `other` level, names XGBoost rejects."""
    train, seed_set = data
    kept = sorted(CHANNELS)[:2]
    features = [
        Feature("amount[eur]", "numerical", "float64", model_name="amount(eur)"),
        *[f for f in SCHEMA.features if f.name not in ("amount", "channel")],
        Feature("channel", "categorical", "object", kept + ["(other)"], other="(other)"),
    ]
    schema = Schema(label=LABEL, features=features)
    rename = {"amount": "amount[eur]"}
    gen = make_generator(name, tiny(name))
    gen.fit(seed_set.rename(columns=rename), schema, train=train.rename(columns=rename), seed=0)
    out = gen.sample(40, seed=1)
    assert list(out.columns) == schema.feature_names
    assert set(out["channel"].dropna()) <= set(kept) | {"(other)"}
    assert list(schema.to_model_frame(out).columns)[0] == "amount(eur)"


@pytest.mark.parametrize("name", generator_names())
def test_constant_and_all_nan_columns(name, data):
    train, seed_set = data
    schema = Schema(
        label=LABEL,
        features=SCHEMA.features
        + [
            Feature("const_f", "numerical", "float64"),
            Feature("const_c", "categorical", "object", ["x", "y"]),
            Feature("empty_f", "numerical", "float64"),
            Feature("empty_c", "categorical", "object", ["z"]),
        ],
    )
    extra = {"const_f": 2.5, "const_c": "x", "empty_f": np.nan, "empty_c": None}
    train2, seed2 = train.assign(**extra), seed_set.assign(**extra)
    train2.loc[train2[LABEL] == 0, "const_c"] = "y"  # constant in the seed set only
    gen = make_generator(name, tiny(name)).fit(seed2, schema, train=train2, seed=1)
    out = gen.sample(25, seed=1)
    assert list(out.columns) == schema.feature_names and len(out) == 25
    assert (out["const_f"] == 2.5).all() and (out["const_c"] == "x").all()
    assert out["empty_f"].isna().all() and out["empty_c"].isna().all()
    assert gen.fit_info["dropped_constant_columns"] == ["const_c", "const_f"]
    assert gen.fit_info["dropped_all_nan_columns"] == ["empty_c", "empty_f"]


@pytest.mark.parametrize("name", generator_names())
def test_sample_before_fit(name):
    with pytest.raises(GeneratorError, match="not fitted"):
        make_generator(name, tiny(name)).sample(5)


@pytest.mark.parametrize("name", [n for n in generator_names() if GENERATORS[n].family == "oversampler"])
def test_oversamplers_need_train(name, data):
    _, seed_set = data
    with pytest.raises(GeneratorError, match="train"):
        make_generator(name, tiny(name)).fit(seed_set, SCHEMA, train=None)


def test_ctgan_batch_size_adjusted_for_small_seed_set(data):
    train, seed_set = data
    gen = make_generator("ctgan", tiny("ctgan", epochs=1, batch_size=500)).fit(seed_set.iloc[:25], SCHEMA, train=train)
    assert gen.fit_info["batch_size_used"] == 20
    assert any("batch_size" in note for note in gen.fit_info["notes"])
    assert len(gen.sample(7)) == 7


def test_adasyn_returns_exactly_n(data):
    train, seed_set = data
    gen = make_generator("adasyn", tiny("adasyn")).fit(seed_set, SCHEMA, train=train)
    for n in (1, 13, 250):
        assert len(gen.sample(n, seed=n)) == n


def test_load_missing_and_corrupt_files(tmp_path):
    with pytest.raises(GeneratorError, match="not found"):
        Generator.load(tmp_path / "nope.pkl")
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(GeneratorError, match="cannot be read"):
        Generator.load(bad)


def test_save_unfitted_is_an_error(tmp_path):
    with pytest.raises(GeneratorError, match="not fitted"):
        make_generator("smote", {}).save(tmp_path / "g.pkl")


def test_library_errors_become_one_line_generator_errors(data):
    train, seed_set = data
    # a column SDV has never heard of: the library raises deep inside, we give one line
    gen = make_generator("gaussian_copula", {"numerical_distributions": {"amount": "beta"}})
    gen._metadata = lambda columns: (_ for _ in ()).throw(ValueError("deep\nlibrary\nerror"))
    with pytest.raises(GeneratorError) as err:
        gen.fit(seed_set, SCHEMA, train=train)
    message = str(err.value)
    assert message.startswith(f"gaussian_copula failed to fit on {N_SEED} seed rows: ValueError: deep library error")
    assert "\n" not in message


@pytest.mark.parametrize("name", generator_names())
def test_every_declared_hyperparameter_check_is_enforced(name):
    """The declared constraints are the only checks: each default passes, each declared bad value is refused
    with the hyperparameter named."""
    cls = GENERATORS[name]
    make_generator(name, cls.hyperparameter_defaults())
    for key, (check, _) in cls.parameters.items():
        bad_values = check.invalid_examples()
        assert bad_values, f"{name}.{key} declares a check that rejects nothing"
        for bad in bad_values:
            with pytest.raises(ConfigError, match=f"{key}"):
                make_generator(name, {key: bad})


@pytest.mark.parametrize("name", ["ctgan", "tvae"])
def test_steps_set_the_epochs_from_the_seed_set_size(name, data):
    """`steps`: as many gradient steps whatever the seed-set size (epochs = ceil(steps x batch / rows))."""
    train, seed_set = data
    gen = make_generator(name, tiny(name, steps=12, batch_size=20)).fit(seed_set, SCHEMA, train=train, seed=0)
    assert gen.fit_info["epochs"] == 4  # 12 steps x 20 rows / 60 seed rows
    assert any("epochs = 4: 12 steps of 20 rows over 60 seed rows" in n for n in gen.fit_info["notes"])
    assert len(gen.fit_info["loss_curve"]) == 4
