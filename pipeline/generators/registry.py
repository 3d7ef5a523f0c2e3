"""Registry of generator types: the names params.yaml uses (`generators.<name>` or its `type:`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.generators.arf_models import ARFGenerator
from pipeline.generators.base import Generator
from pipeline.generators.oversamplers import (
    ADASYNGenerator,
    BorderlineSMOTEGenerator,
    RandomOversampleGenerator,
    SMOTEGenerator,
)
from pipeline.generators.sdv_models import (
    CopulaGANGenerator,
    CTGANGenerator,
    GaussianCopulaGenerator,
    TVAEGenerator,
)

GENERATORS: dict[str, type[Generator]] = {
    cls.name: cls
    for cls in (
        CTGANGenerator,
        TVAEGenerator,
        GaussianCopulaGenerator,
        CopulaGANGenerator,
        SMOTEGenerator,
        BorderlineSMOTEGenerator,
        ADASYNGenerator,
        RandomOversampleGenerator,
        ARFGenerator,
    )
}


def generator_names() -> list[str]:
    """The valid generator types, sorted."""
    return sorted(GENERATORS)


def make_generator(gen_type: str, hyperparameters: Mapping[str, Any] | None = None) -> Generator:
    """A new, unfitted generator of `gen_type` with the given hyperparameters (defaults for the rest)."""
    if not isinstance(gen_type, str) or gen_type not in GENERATORS:
        raise ConfigError(f"unknown generator '{gen_type}'; valid generators: {', '.join(generator_names())}")
    if hyperparameters is None:
        hyperparameters = {}
    if not isinstance(hyperparameters, Mapping):
        raise ConfigError(
            f"hyperparameters of generator '{gen_type}' must be a mapping of name to value, "
            f"got {type(hyperparameters).__name__}; fix params.yaml"
        )
    bad = [k for k in hyperparameters if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"hyperparameter name {bad[0]!r} of generator '{gen_type}' is not a string; fix params.yaml")
    return GENERATORS[gen_type](**dict(hyperparameters))


def split_type(name: str, hyperparameters: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(generator type, hyperparameters without `type`) of the generator configured as `name` in params.yaml:
    the type is the `type:` entry when given, else the name itself."""
    hp = dict(hyperparameters or {})
    return hp.pop("type", name), hp
