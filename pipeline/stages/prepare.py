"""Stage `prepare`: data/prepared/{train,valid,test}.parquet, schema.json, profile.json.

A table read whole goes through `pipeline.data.prepare` in this process. A table out of core (`data.path` a folder
or glob of parts, or a file above `data.out_of_core_above`: `sources.input_parts`) goes through
`pipeline.data.partitioned` on the compute backend (`compute.scheduler`: a local cluster, a cluster's address, or
`sequential`: Dask's synchronous scheduler in this process), and its splits are written as folders of Parquet
parts, one per input partition.
"""

from __future__ import annotations

from typing import Any

from pipeline.core.compute import SEQUENTIAL, open_backend
from pipeline.core.files import write_dask_parquet, write_json, write_parquet
from pipeline.core.paths import Paths
from pipeline.data.prepare import contract_lines, prepare_data
from pipeline.data.sources import input_parts
from pipeline.data.split import PARTS


def run(params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    files = input_parts(params, paths.root)
    if files is None:
        prepared = prepare_data(params, paths.root)
        for name, part in prepared.parts.items():
            write_parquet(paths.split(name), part, params["data"]["partition_rows"])
        prepared.schema.save(paths.schema)
        p = prepared.profile
        parts_note = (
            f"Parquet parts of {params['data']['partition_rows']} rows" if params["data"]["partition_rows"] else None
        )
    else:
        p = _out_of_core(params, paths, files)
        parts_note = "Parquet parts, one per input partition (out of core)"
    write_json(paths.profile, p)
    print(
        f"prepare: {p['source']}; {p['split']} split; "
        + "; ".join(f"{n} {p[n]['rows']} rows / {p[n]['frauds']} frauds" for n in ("train", "valid", "test"))
    )
    if parts_note:
        print(
            f"prepare: splits written as {parts_note} ({paths.split('train').relative_to(paths.root)}/part-*.parquet, ...)"
        )
    for line in contract_lines(p.get("input_contract", {})):
        print(f"prepare: {line}")
    return p


def _out_of_core(params: dict[str, Any], paths: Paths, files: list) -> dict[str, Any]:
    import dask

    from pipeline.data.partitioned import prepare_out_of_core

    with open_backend(params) as backend, dask.config.set({"dataframe.convert-string": False}):
        where = "Dask's synchronous scheduler in this process" if backend.scheduler == SEQUENTIAL else backend.describe
        print(f"prepare: {len(files)} input file(s) out of core on dask.dataframe, {where}", flush=True)
        settings = {"scheduler": "synchronous"} if backend.scheduler == SEQUENTIAL else {"scheduler": backend.client}
        with dask.config.set(settings):
            job, source = prepare_out_of_core(params, files)
            split_paths = {name: paths.split(name) for name in PARTS}
            write_dask_parquet(split_paths, job.splits())
            job.schema.save(paths.schema)
            return job.profile(split_paths, source)
