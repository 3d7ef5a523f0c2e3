"""Atomic file writes: every output goes to a temporary path first, then is renamed."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; swap it in for `path` (a folder or file, replaced whole)
    only if the block succeeds. A failed block leaves `path` as it was and no partial folder."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = tmp.with_suffix(".old")
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.is_dir() and not path.is_symlink():
            path.rename(old)
        elif path.exists() or path.is_symlink():
            path.unlink()
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Standard JSON (NaN and infinities written as null), keys sorted, written atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(_finite_floats(obj), indent=2, sort_keys=True, default=_default, allow_nan=False) + "\n"
        )


def _finite_floats(o: Any) -> Any:
    if isinstance(o, float):
        return o if o == o and o not in (float("inf"), float("-inf")) else None
    if isinstance(o, dict):
        return {k: _finite_floats(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite_floats(v) for v in o]
    if isinstance(o, np.ndarray):
        return _finite_floats(o.tolist())
    return o


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_parquet(path: str | os.PathLike, df: pd.DataFrame, partition_rows: int | None = None) -> None:
    """One Parquet file, or with `partition_rows` a folder of parts (`part-00000.parquet`, ...) of at most that
    many rows each, in row order (pandas reads the folder whole; Dask part by part). Written atomically."""
    if partition_rows is None:
        with atomic_path(path) as tmp:
            df.to_parquet(tmp, index=False)
            if Path(path).is_dir():  # written as parts before (data.partition_rows was set)
                import shutil

                shutil.rmtree(path)
        return
    with atomic_dir(path) as tmp:
        for k, start in enumerate(range(0, max(len(df), 1), partition_rows)):
            df.iloc[start : start + partition_rows].to_parquet(tmp / f"part-{k:05d}.parquet", index=False)


def write_dask_parquet(paths: Mapping[str, str | os.PathLike], frames: Mapping[str, Any]) -> None:
    """Dask DataFrames as folders of Parquet parts (`part-00000.parquet`, ... one per partition), computed together
    (inputs they share are read once) and written atomically: each folder appears only when every one is whole."""
    import dask

    with contextlib.ExitStack() as stack:
        tmps = {name: stack.enter_context(atomic_dir(path)) for name, path in paths.items()}
        dask.compute(
            *[
                frames[name].to_parquet(
                    str(tmp), write_index=False, compute=False, name_function=lambda i: f"part-{i:05d}.parquet"
                )
                for name, tmp in tmps.items()
            ]
        )
        for tmp in tmps.values():
            _drop_empty_parts(tmp)


def _drop_empty_parts(folder: Path) -> None:
    """Remove the parts that hold no rows (a partition wholly outside its split), renumbering the rest in order:
    readers such as xgboost.dask refuse a worker whose parts are all empty. One part is always kept."""
    import pyarrow.parquet as pq

    parts = sorted(folder.glob("part-*.parquet"))
    empty = [p for p in parts if pq.read_metadata(p).num_rows == 0]
    if len(empty) == len(parts):
        empty = empty[1:]
    for p in empty:
        p.unlink()
    for i, p in enumerate(sorted(folder.glob("part-*.parquet"))):
        p.rename(folder / f"part-{i:05d}.parquet")


def write_csv(path: str | os.PathLike, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def finite_or_none(x: Any) -> float | None:
    """`x` as a float, or None when it is not a number or not finite (NaN, inf)."""
    import math

    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (pd.Timestamp,)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
