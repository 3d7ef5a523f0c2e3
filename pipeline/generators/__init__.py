"""Synthetic fraud generators: SDV synthesizers, imbalanced-learn oversamplers and adversarial random forests,
behind one interface and one registry; and targeted generation (how many rows each fraud segment gets).

    gen = make_generator("ctgan", {"epochs": 300})
    gen.fit(seed_set, schema, train=train_split, seed=0)
    rows = gen.sample(1000, seed=0)      # new synthetic fraud rows, schema feature columns
    gen.save(path); Generator.load(path)

May import: `core`, `data`.
"""

from pipeline.generators.base import Generator
from pipeline.generators.registry import GENERATORS, generator_names, make_generator

__all__ = ["GENERATORS", "Generator", "generator_names", "make_generator"]
