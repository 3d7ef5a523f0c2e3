"""Parts of a prepared split read without holding the split whole: its frauds (the seed set), a bounded seeded
sample of its legitimate rows (oversamplers' neighbours, `data.legit_sample_rows`), and the rows detectors train
on with `data.legit_fraction` (a seeded share of the legitimate rows, each weighted 1/fraction).

A split is one Parquet file or a folder of parts (`part-*.parquet`, written by prepare). Every function reads one
part at a time, so memory holds one part plus what is returned. The legitimate rows kept by `legit_fraction` are
decided per part by `keep_rows` (a draw per row, seeded by the seed and the part's number), so the xgboost engine
reading parts here and the dask engine sampling each partition (`pipeline.experiment.engine_dask`) train on the
same rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pipeline.core.errors import DataError


def part_files(path: str | Path) -> list[Path]:
    """The Parquet files of a split, in order: the file itself, or a folder's `part-*.parquet`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} not found; run the prepare stage (dvc repro prepare)")
    return sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]


def read_frauds(path: str | Path, label: str) -> pd.DataFrame:
    """The fraud rows of a split (all columns, fresh index), read part by part through a filter on the label."""
    frames = [pq.read_table(f, filters=[(label, "==", 1)]).to_pandas() for f in part_files(path)]
    return pd.concat(frames, ignore_index=True)


def label_counts(path: str | Path, label: str) -> list[tuple[int, int]]:
    """(rows, frauds) of each part, from the label column only."""
    out = []
    for f in part_files(path):
        y = pq.read_table(f, columns=[label]).column(0).to_numpy()
        out.append((len(y), int(y.sum())))
    return out


def read_legit_sample(path: str | Path, label: str, n: int, seed: int) -> pd.DataFrame:
    """At most `n` legitimate rows of a split: all of them when it holds no more, else a seeded sample without
    replacement (the same rows for the same split, `n` and seed), in the split's row order."""
    files = part_files(path)
    legit = [rows - frauds for rows, frauds in label_counts(path, label)]
    total = sum(legit)
    chosen = np.arange(total) if total <= n else np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
    frames, start = [], 0
    for f, k in zip(files, legit):
        mine = chosen[(chosen >= start) & (chosen < start + k)] - start
        start += k
        if len(mine):
            part = pq.read_table(f, filters=[(label, "==", 0)]).to_pandas()
            frames.append(part.iloc[mine])
    return pd.concat(frames, ignore_index=True)


def keep_rows(labels: np.ndarray, part: int, fraction: float, seed: int) -> np.ndarray:
    """Rows of part number `part` that detectors train on with `data.legit_fraction`: every fraud, and each
    legitimate row with probability `fraction` (a draw seeded by `seed` and `part`)."""
    labels = np.asarray(labels)
    if fraction >= 1.0:
        return np.ones(len(labels), dtype=bool)
    draw = np.random.default_rng([seed, part]).random(len(labels))
    return (labels == 1) | (draw < fraction)


def row_weights(labels: np.ndarray, fraction: float) -> np.ndarray:
    """Sample weights of the kept rows: 1/fraction for legitimate rows (each stands for that many), 1 for frauds."""
    labels = np.asarray(labels)
    return np.where(labels == 1, 1.0, 1.0 / fraction)


def read_training(path: str | Path, label: str, fraction: float, seed: int) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The training rows detectors see: the whole split when `fraction` is 1 (weights None), else every fraud and a
    seeded `fraction` of the legitimate rows (`keep_rows`) with their weights (`row_weights`)."""
    if fraction >= 1.0:
        return pd.read_parquet(path), None
    frames = []
    for i, f in enumerate(part_files(path)):
        part = pd.read_parquet(f)
        frames.append(part.loc[keep_rows(part[label].to_numpy(), i, fraction, seed)])
    rows = pd.concat(frames, ignore_index=True)
    return rows, row_weights(rows[label].to_numpy(), fraction)
