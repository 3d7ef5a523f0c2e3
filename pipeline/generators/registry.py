"""Registry of generator kinds: the `kind` names used in params.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.errors import ConfigError
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
    )
}


def generator_names() -> list[str]:
    """The valid generator kinds, sorted."""
    return sorted(GENERATORS)


def make_generator(kind: str, hyperparameters: Mapping[str, Any] | None = None) -> Generator:
    """A new, unfitted generator of `kind` with the given hyperparameters (defaults for the rest)."""
    if not isinstance(kind, str) or kind not in GENERATORS:
        raise ConfigError(f"unknown generator '{kind}'; valid generators: {', '.join(generator_names())}")
    if hyperparameters is None:
        hyperparameters = {}
    if not isinstance(hyperparameters, Mapping):
        raise ConfigError(
            f"hyperparameters of generator '{kind}' must be a mapping of name to value, "
            f"got {type(hyperparameters).__name__}; fix params.yaml"
        )
    bad = [k for k in hyperparameters if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"hyperparameter name {bad[0]!r} of generator '{kind}' is not a string; fix params.yaml")
    return GENERATORS[kind](**dict(hyperparameters))


def load_generator(path) -> Generator:
    """Load any generator written by `Generator.save`."""
    return Generator.load(path)
