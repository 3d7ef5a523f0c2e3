"""Provenance of a result: git commit, data fingerprint, params hash, package versions.

Plain hashing and version lookups, no MLflow: `publish` and `retrain` record these, and only
`pipeline.ops.tracking` talks to MLflow.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

PACKAGES = (
    "sdv",
    "ctgan",
    "torch",
    "xgboost-cpu",
    "xgboost",
    "scikit-learn",
    "pandas",
    "imbalanced-learn",
    "mlflow",
    "dvc",
)


def git_commit(root: Path) -> str:
    """HEAD's commit, with `-dirty` when tracked files have uncommitted changes; `unknown` outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 else "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return commit + ("-dirty" if dirty and commit != "unknown" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def file_fingerprint(files: list[Path]) -> str:
    """A short hash of the files' names and bytes, in the order given; a folder (a split written as Parquet parts)
    counts as its files in name order."""
    h = hashlib.sha256()
    for f in files:
        f = Path(f)
        h.update(f.name.encode())
        for part in sorted(p for p in f.rglob("*") if p.is_file()) if f.is_dir() else [f]:
            if part != f:
                h.update(part.relative_to(f).as_posix().encode())
            with open(part, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def frame_fingerprint(df: pd.DataFrame) -> str:
    """A short hash of a DataFrame's column names, dtypes and values (row order counts, the index does not)."""
    import pandas

    h = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(pandas.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def code_fingerprint() -> str:
    """A short hash of this package's source files (what a cached result or a Dask worker must share)."""
    import pipeline

    return file_fingerprint(sorted(Path(pipeline.__file__).parent.rglob("*.py")))


def json_hash(obj: Any) -> str:
    """A short hash of a JSON-able object (key order does not matter)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        v = version(p)
        if v is not None:
            out[p] = v
    return out


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
