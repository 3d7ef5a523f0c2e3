"""Stage `prepare`: data/prepared/{train,valid,test}.parquet, schema.json, profile.json."""

from __future__ import annotations

from typing import Any

from pipeline.core.files import write_json, write_parquet
from pipeline.core.paths import Paths
from pipeline.data.prepare import contract_lines, prepare_data


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    prepared = prepare_data(params, paths.root)
    for name, part in prepared.parts.items():
        write_parquet(paths.split(name), part, params["data"]["partition_rows"])
    prepared.schema.save(paths.schema)
    write_json(paths.profile, prepared.profile)
    p = prepared.profile
    print(
        f"prepare: {p['source']}; {p['split']} split; "
        + "; ".join(f"{n} {p[n]['rows']} rows / {p[n]['frauds']} frauds" for n in ("train", "valid", "test"))
    )
    if params["data"]["partition_rows"]:
        print(
            f"prepare: splits written as Parquet parts of {params['data']['partition_rows']} rows "
            f"({paths.split('train').relative_to(paths.root)}/part-*.parquet, ...)"
        )
    for line in contract_lines(p.get("input_contract", {})):
        print(f"prepare: {line}")
    return p
