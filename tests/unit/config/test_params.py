import pytest
import yaml

from pipeline.config.params import SPEC, defaults, load_params, validate
from pipeline.config.recording import recording
from pipeline.core.errors import ConfigError
from tests.helpers import ROOT, base_params


def test_shipped_params_are_valid():
    p = load_params(ROOT / "params.yaml")
    assert p["augment"]["shares"][0] == 0.0
    assert p["evaluate"]["fpr_budgets"]


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda p: p["split"].__setitem__("trian", 0.5), "split.trian"),
        (lambda p: p.__setitem__("extra", {}), "extra"),
        (lambda p: p["split"].__setitem__("train", 1.5), "split.train"),
        (lambda p: p["split"].__setitem__("min_frauds", "many"), "split.min_frauds"),
        (lambda p: p["augment"].__setitem__("shares", [0.0, 1.0]), "augment.shares[1]"),
        (lambda p: p["augment"].__setitem__("shares", [0.0, -0.1]), "augment.shares[1]"),
        (lambda p: p["detector"].__setitem__("seeds", []), "detector.seeds"),
        (lambda p: p["data"].__setitem__("source", "excel"), "data.source"),
        (lambda p: p["generators"].__setitem__("gan9000", {}), "generators.gan9000"),
        (lambda p: p["quality"].__setitem__("exclude_failed", "yes"), "quality.exclude_failed"),
        (lambda p: p["evaluate"].__setitem__("fpr_budgets", [0.0]), "evaluate.fpr_budgets[0]"),
        (lambda p: p["split"].update({"train": 0.7, "valid": 0.2, "test": 0.2}), "split"),
        (lambda p: p["data"]["csv"].__setitem__("thousands", ";"), "data.csv.thousands"),
        (lambda p: p["data"]["csv"].update({"thousands": ",", "decimal": ","}), "data.csv.thousands"),
        (lambda p: p["data"].__setitem__("dayfirst", "yes"), "data.dayfirst"),
        (lambda p: p["augment"].__setitem__("fit_seeds", []), "augment.fit_seeds"),
        (lambda p: p["augment"].__setitem__("fit_seeds", [0, 0]), "augment.fit_seeds"),
        (lambda p: p["augment"].__setitem__("target", {"policy": "balance"}), "augment.target.column"),
        (lambda p: p["augment"].__setitem__("target", {"column": "c", "policy": "weights"}), "augment.target"),
        (
            lambda p: p["augment"].__setitem__("target", {"column": "c", "policy": "weights", "weights": {"a": 0}}),
            "augment.target.weights",
        ),
        (
            lambda p: p["augment"].__setitem__("target", {"column": "c", "policy": "balance", "weights": {"a": 1}}),
            "augment.target",
        ),
        (lambda p: p["scarcity"].__setitem__("n_frauds", [1]), "scarcity.n_frauds[0]"),
        (lambda p: p["scarcity"].__setitem__("n_frauds", ["some"]), "scarcity.n_frauds[0]"),
        (lambda p: p["scarcity"].__setitem__("n_frauds", [25, 25]), "scarcity.n_frauds"),
        (lambda p: p["scarcity"].__setitem__("shares", [0.0]), "scarcity.shares[0]"),
        (lambda p: p["scarcity"].__setitem__("generators", ["ctgan"]), "scarcity.generators"),
    ],
)
def test_bad_values_name_the_key(mutate, key):
    p = base_params()
    mutate(p)
    with pytest.raises(ConfigError) as e:
        validate(p)
    assert f" {key}:" in str(e.value) or f": {key}:" in str(e.value)
    assert "\n" not in str(e.value)


def test_the_old_single_fit_seed_points_to_the_list():
    p = base_params()
    p["augment"].pop("fit_seeds")
    p["augment"]["fit_seed"] = 3
    with pytest.raises(ConfigError, match=r"augment.fit_seed is now augment.fit_seeds, a list .*fit_seeds: \[3\]"):
        validate(p)


def test_target_weights_keys_are_text_and_scarcity_generators_default_to_configured_ones():
    p = base_params()
    p["augment"]["target"] = {"column": "fraud_scenario", "policy": "weights", "weights": {4: 1, "2": 0.5}}
    assert validate(p)["augment"]["target"]["weights"] == {"4": 1.0, "2": 0.5}
    p.pop("scarcity")
    p.pop("unseen")
    p["generators"] = {"ctgan": {}, "smote": {}}
    assert validate(p)["scarcity"]["generators"] == validate(p)["unseen"]["generators"] == ["smote"]  # defaults
    p["generators"] = {"tvae": {}}
    assert validate(p)["scarcity"]["generators"] == validate(p)["unseen"]["generators"] == ["tvae"]
    p["unseen"] = {"generators": ["ctgan"]}
    with pytest.raises(ConfigError, match=r"unseen.generators: names 'ctgan', not configured under generators"):
        validate(p)


def test_unknown_generator_lists_valid_names():
    p = base_params()
    p["generators"] = {"gan9000": {}}
    with pytest.raises(ConfigError, match="valid names: .*ctgan"):
        validate(p)


def test_shares_are_kept_as_written():
    """No silent rewrite: the real-only baseline is always trained, whether or not 0.0 is listed."""
    p = base_params()
    p["augment"]["shares"] = [0.5, 0.25]
    assert validate(p)["augment"]["shares"] == [0.5, 0.25]


@pytest.mark.parametrize(
    "key, value",
    [
        ("simulate.n_customers", 0),
        ("simulate.n_customers", 1.5),
        ("simulate.n_customers", True),
        ("simulate.n_customers", 10**8),
        ("simulate.n_terminals", "10"),
        ("simulate.n_days", 0),
        ("simulate.day_offset", -1),
        ("simulate.radius", 0),
        ("simulate.radius", float("nan")),
        ("simulate.seed", -1),
        ("simulate.seed", 1.0),
        ("simulate.start_date", "not a date"),
        ("simulate.start_date", "2025-01-01 10:30"),
        ("features.windows", []),
        ("features.windows", [0, 7]),
        ("features.windows", [1.5]),
        ("features.windows", "7"),
        ("features.windows", [7, 7]),
        ("features.delay_days", -1),
        ("features.delay_days", 2.5),
    ],
)
def test_simulator_and_feature_settings_checked_once_here(key, value):
    p = base_params()
    section, name = key.split(".")
    p["data"][section][name] = value
    with pytest.raises(ConfigError, match=f"data.{key}"):
        validate(p)


def test_every_problem_reported_at_once_in_one_line():
    p = base_params()
    p["split"]["train"] = 1.5
    p["detector"]["seeds"] = []
    p["evaluate"]["fpr_budgets"] = [0.01, 0.01]
    p["generators"] = {"ctgan": {"epochs": -1, "pac": "x"}}
    with pytest.raises(ConfigError) as e:
        validate(p)
    msg = str(e.value)
    for part in (
        "split.train: must be in (0.0, 1.0), got 1.5",
        "detector.seeds: must have at least 1 item(s)",
        "evaluate.fpr_budgets: lists 0.01 more than once",
        "epochs: must be >= 1, got -1",
        "pac: must be an integer, got str 'x'",
    ):
        assert part in msg
    assert "\n" not in msg


#: where the shipped params.yaml differs from the SPEC's defaults, and why: the built-in simulated data's columns
#: (a user's own table has none of them, so the defaults must not name them) and the red team's tactics on them
BUILT_IN_DATA = {
    "data.time_column",
    "data.id_columns",
    "data.meta_columns",
    "evaluate.segments",
    "unseen.column",
    "redteam.tactics",
    "redteam.combinations",
}


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flat(v, key + ".") if isinstance(v, dict) and v else {key: v})
    return out


def test_params_yaml_holds_the_spec_defaults_except_the_built_in_data():
    """The SPEC (pipeline/config/params.py) is the one source of defaults; params.yaml shows each of them where a user
    edits it. Nothing but the built-in data's own settings may differ, and no default may be missing there."""
    shipped = yaml.safe_load((ROOT / "params.yaml").read_text())
    spec = _flat(SPEC.defaults())
    mine = _flat({k: v for k, v in shipped.items() if k != "generators"})
    assert sorted(set(spec) - set(mine)) == []  # every setting is visible in params.yaml
    assert sorted(set(mine) - set(spec)) == []
    differ = {k for k in spec if spec[k] != mine[k]}
    assert differ == BUILT_IN_DATA, differ ^ BUILT_IN_DATA


def test_a_key_left_out_of_params_yaml_takes_the_spec_default():
    p = base_params()
    del p["quality"]["max_detection_auc_excess"], p["split"]["gap"]
    del p["scarcity"]
    v = validate(p)
    spec = SPEC.defaults()
    assert v["quality"]["max_detection_auc_excess"] == spec["quality"]["max_detection_auc_excess"]
    assert v["split"]["gap"] == spec["split"]["gap"]
    assert v["scarcity"]["n_frauds"] == spec["scarcity"]["n_frauds"]
    assert defaults()["generators"] == {}  # generators are data, not defaults: none unless configured


def test_recording_params_notes_each_key_read():
    reads: set[str] = set()
    p = recording(validate(base_params()), reads)
    assert p["detector"]["seeds"] == [0, 1]
    _ = dict(p["data"]["simulate"])
    list(p["generators"])
    assert {"detector", "detector.seeds", "data.simulate.*", "generators.*"} <= reads
    assert "split" not in " ".join(reads)
    with pytest.raises(TypeError):
        p["split"] = {}


def test_csv_source_needs_path():
    p = base_params()
    p["data"]["source"] = "csv"
    with pytest.raises(ConfigError, match="data.path"):
        validate(p)


def test_invalid_yaml(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(f)


def test_overrides_apply(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(base_params()))
    p = load_params(f, overrides={"detector.seeds": [5]})
    assert p["detector"]["seeds"] == [5]


def test_generator_hyperparameters_checked_on_load():
    p = base_params()
    p["generators"] = {"ctgan": {"epochz": 3}}
    with pytest.raises(ConfigError, match=r"generators.ctgan: .*epochz"):
        validate(p)


def test_split_shares_that_leave_rows_unused_are_an_error():
    p = base_params()
    p["split"].update({"train": 0.6, "gap": 0.05, "valid": 0.15, "test": 0.1})
    with pytest.raises(ConfigError) as e:
        validate(p)
    assert (
        "split: train + gap + valid + test must add up to 1, got 0.900 (the newest 0.100 of the rows would be used "
        "nowhere; enlarge split.test to 0.200)"
    ) in str(e.value)


def test_number_format_settings_default_to_detection():
    p = load_params(ROOT / "params.yaml")
    assert p["data"]["csv"]["decimal"] is None and p["data"]["csv"]["thousands"] is None
    assert p["data"]["dayfirst"] is None
    assert validate({**base_params(), "data": {**base_params()["data"], "csv": {"thousands": "'"}}})
