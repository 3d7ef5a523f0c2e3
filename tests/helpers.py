"""Helpers shared by tests: small tables and params for a temporary project root."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def base_params(**sections) -> dict:
    """A small, fast params dict (tiny generators, one detector seed) for tests."""
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["data"]["simulate"].update({"n_customers": 300, "n_terminals": 600, "n_days": 60, "day_offset": 60})
    p["split"]["min_frauds"] = 5
    p["generators"] = {"gaussian_copula": {}, "smote": {"k_neighbors": 5}}
    p["augment"]["shares"] = [0.0, 0.5]
    # one XGBoost thread: the suite runs one pytest-xdist worker per core, and OpenMP threads of two busy
    # processes on 2 cores stall on synchronisation (a tiny fit 0.6 s with 1 thread, 2.1-2.6 s with 2)
    p["detector"].update({"seeds": [0, 1], "n_estimators": 60, "early_stopping_rounds": 10, "n_jobs": 1})
    p["evaluate"]["n_boot"] = 200
    p["scarcity"] = {"n_frauds": [10, "all"], "repeats": [0, 1], "generators": ["smote"], "shares": [0.5], "seeds": [0]}
    p["unseen"] = {"column": "fraud_scenario", "generators": ["smote"], "shares": [0.5], "fit_seeds": [0], "seeds": [0]}
    # no Dask cluster per stage in the many small runs; tests/integration/test_compute.py runs the stages on
    # LocalClusters and proves every backend gives identical results
    p["compute"]["scheduler"] = "sequential"
    for k, v in sections.items():
        p[k].update(v) if isinstance(v, dict) and isinstance(p.get(k), dict) else p.__setitem__(k, v)
    return p


def csv_table(**data) -> dict:
    """`data:` params for the generic CSV table of `tabular_frame` at data/raw/t.csv (label Class, time Time, no id,
    meta or dropped columns), updated with `data`."""
    return {
        "source": "csv",
        "path": "data/raw/t.csv",
        "label": "Class",
        "time_column": "Time",
        "id_columns": [],
        "meta_columns": [],
        "drop_columns": [],
        **data,
    }


def write_prepared(root: Path, train: pd.DataFrame, valid: pd.DataFrame, test: pd.DataFrame, schema):
    """A project root holding prepared splits and their schema, as `prepare` writes them; returns its Paths."""
    from pipeline.core.paths import Paths

    paths = Paths.at(root)
    for name, df in (("train", train), ("valid", valid), ("test", test)):
        paths.split(name).parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(paths.split(name))
    schema.save(paths.schema)
    return paths


def write_params(root: Path, params: dict) -> Path:
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def tabular_frame(n: int = 3000, fraud_rate: float = 0.05, seed: int = 0, with_time: bool = True) -> pd.DataFrame:
    """A generic labelled table with numeric and categorical columns (ULB/claims-like)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < fraud_rate).astype(int)
    df = pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(3, 1, n) * (1 + 2 * y), 2),
            "v1": rng.normal(0, 1, n) + 1.5 * y,
            "count": rng.poisson(3, n) + 2 * y,
            "channel": rng.choice(["web", "pos", "atm", "phone"], n),
            "Class": y,
        }
    )
    if with_time:
        df.insert(0, "Time", np.sort(rng.uniform(0, 172800, n)).round(0))
    return df


#: tiny hyperparameters per generator kind: every registered generator fits in about a second
_NET = {"epochs": 3, "batch_size": 30, "embedding_dim": 16}
TINY_GENERATORS = {
    "ctgan": {**_NET, "generator_dim": (32, 32), "discriminator_dim": (32, 32)},
    "copulagan": {**_NET, "generator_dim": (32, 32), "discriminator_dim": (32, 32), "default_distribution": "norm"},
    "tvae": {**_NET, "compress_dims": (32, 32), "decompress_dims": (32, 32)},
    "gaussian_copula": {"default_distribution": "norm"},
    "smote": {"k_neighbors": 4},
    "borderline_smote": {"k_neighbors": 4, "m_neighbors": 8},
    "adasyn": {"n_neighbors": 4},
    "random_oversample": {},
}


def tiny(name: str, **extra) -> dict:
    """Tiny hyperparameters for generator kind `name`, updated with `extra`."""
    return {**TINY_GENERATORS.get(name, {}), **extra}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server, or for a dead-server test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> float:
    """Wait until `url` answers 200 while `proc` (the server) runs; the seconds it took. Raises if the server
    exits or does not answer in time."""
    t0 = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited (code {proc.returncode}) before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.3)
