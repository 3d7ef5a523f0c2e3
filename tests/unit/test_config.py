import pytest
import yaml

from pipeline.config import load_params, validate
from pipeline.errors import ConfigError
from tests.helpers import ROOT, base_params


def test_shipped_params_are_valid():
    p = load_params(ROOT / "params.yaml")
    assert p["augment"]["shares"][0] == 0.0
    assert p["evaluate"]["fpr_budgets"]


@pytest.mark.parametrize("mutate, key", [
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
])
def test_bad_values_name_the_key(mutate, key):
    p = base_params()
    mutate(p)
    with pytest.raises(ConfigError) as e:
        validate(p)
    assert f" {key}:" in str(e.value) or f": {key}:" in str(e.value)
    assert "\n" not in str(e.value)


def test_unknown_generator_lists_valid_names():
    p = base_params()
    p["generators"] = {"gan9000": {}}
    with pytest.raises(ConfigError, match="valid names: .*ctgan"):
        validate(p)


def test_share_zero_always_present_and_sorted():
    p = base_params()
    p["augment"]["shares"] = [0.5, 0.25]
    assert validate(p)["augment"]["shares"] == [0.0, 0.25, 0.5]


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
