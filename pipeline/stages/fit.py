"""Stage `fit@G-F`: fit generator G with fit seed F on the seed set (the TRAINING split's fraud rows) only."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.errors import ConfigError
from pipeline.core.files import write_json
from pipeline.core.paths import Paths
from pipeline.core.schema import Schema
from pipeline.data.samples import read_frauds, read_legit_sample
from pipeline.generators.registry import make_generator, split_type


def target_values(params: dict[str, Any], schema: Schema, train: pd.DataFrame) -> pd.Series | None:
    """The seed rows' values of augment.target.column (None when targeting is off)."""
    target = params["augment"]["target"]
    if not target:
        return None
    column = target["column"]
    if column not in train.columns or column == schema.label:
        raise ConfigError(
            f"augment.target.column {column!r} is not a column of the prepared data; name a meta column "
            "(data.meta_columns) or a categorical feature"
        )
    return train.loc[train[schema.label] == 1, column].reset_index(drop=True)


def run(params: dict[str, Any], paths: Paths, name: str, fit_seed: int) -> dict[str, Any]:
    gen_type, hp = split_type(name, params["generators"][name])
    schema = Schema.load(paths.schema)
    # the seed set comes back alone (a filter on the label, part by part); oversamplers also get the legitimate rows,
    # at most data.legit_sample_rows of them (a seeded sample when the split holds more)
    frauds = read_frauds(paths.split("train"), schema.label)
    seed_set = schema.seed_set(frauds)
    gen = make_generator(gen_type, hp)
    training = None
    if gen.family == "oversampler":
        legit = read_legit_sample(paths.split("train"), schema.label, params["data"]["legit_sample_rows"], fit_seed)
        rows = pd.concat([legit, frauds], ignore_index=True)
        training = pd.concat([schema.conform(rows), rows[[schema.label]]], axis=1)
    stage = f"fit@{name}-{fit_seed}"
    print(f"{stage}: {gen_type} on {len(seed_set)} seed rows x {len(schema.features)} features", flush=True)
    gen.fit(seed_set, schema, train=training, seed=fit_seed, target=target_values(params, schema, frauds))
    gen.save(paths.generator_model(name, fit_seed))
    info = {k: v for k, v in gen.fit_info.items()}
    report = {
        "generator": name,
        "type": gen_type,
        "family": gen.family,
        "parameters": gen.get_parameters(),
        "fit_seed": fit_seed,
        **info,
    }
    write_json(paths.fit_report(name, fit_seed), report)
    print(
        f"{stage}: {info.get('fit_seconds', 0):.1f}s"
        + (f", final loss {info['final_loss']:.4f}" if info.get("final_loss") is not None else "")
    )
    return report
