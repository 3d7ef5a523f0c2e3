"""Stage `fit@G`: fit generator G on the seed set (the TRAINING split's fraud rows) only."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.config import Paths, generator_kind
from pipeline.generators.registry import make_generator
from pipeline.io import write_json
from pipeline.schema import Schema


def seed_set(train: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The fraud rows of the training split, feature columns only."""
    return schema.conform(train.loc[train[schema.label] == 1]).reset_index(drop=True)


def run(params: dict[str, Any], paths: Paths, name: str) -> dict[str, Any]:
    kind, hp = generator_kind(params, name)
    schema = Schema.load(paths.schema)
    train = pd.read_parquet(paths.split("train"))
    seeds = seed_set(train, schema)
    gen = make_generator(kind, hp)
    training = pd.concat([schema.conform(train), train[[schema.label]]], axis=1)
    print(f"fit@{name}: {kind} on {len(seeds)} seed rows x {len(schema.features)} features", flush=True)
    gen.fit(seeds, schema, train=training, seed=params["augment"]["fit_seed"])
    gen.save(paths.generator_model(name))
    info = {k: v for k, v in gen.fit_info.items()}
    report = {"generator": name, "type": kind, "family": gen.family, "parameters": gen.get_parameters(),
              "fit_seed": params["augment"]["fit_seed"], **info}
    write_json(paths.fit_report(name), report)
    print(f"fit@{name}: {info.get('fit_seconds', 0):.1f}s"
          + (f", final loss {info['final_loss']:.4f}" if info.get("final_loss") is not None else ""))
    return report
