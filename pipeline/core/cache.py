"""Results kept on disk under a key that hashes everything they depend on (the data's fingerprint, the pipeline's
code, and the parts a caller adds), so a rerun recomputes only what changed: the scarcity sweep's and the unseen
test's cells (`pipeline.experiment.cells`), the quality gate's reference (`pipeline.stages.sample`)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from pipeline.core.files import atomic_path, read_json, write_json
from pipeline.core.provenance import code_fingerprint, json_hash


class ResultCache:
    """Results on disk by the hash of what they depend on (see the module doc). `key(**parts)` -> a key that also
    covers the pipeline's code; `get_json`/`put_json` hold JSON results, `get_object`/`put_object` pickles
    (fitted generators). Writes are atomic; an unreadable entry counts as missing."""

    def __init__(self, folder: Path, data_fingerprint: str):
        self.folder = Path(folder)
        self.base = {"data": data_fingerprint, "code": code_fingerprint()}
        self.hits = self.misses = 0

    def key(self, **parts: Any) -> str:
        return json_hash({**self.base, **parts})

    def _path(self, key: str, suffix: str) -> Path:
        return self.folder / f"{key}{suffix}"

    def get_json(self, key: str) -> dict[str, Any] | None:
        path = self._path(key, ".json")
        try:
            out = read_json(path) if path.exists() else None
        except Exception:  # a truncated entry (killed mid-write elsewhere) is recomputed
            out = None
        self._count(out is not None)
        return out

    def put_json(self, key: str, value: dict[str, Any]) -> None:
        write_json(self._path(key, ".json"), value)

    def get_object(self, key: str) -> Any | None:
        path = self._path(key, ".pkl")
        try:
            with open(path, "rb") as fh:
                out = pickle.load(fh)
        except Exception:  # missing or unreadable: recomputed
            out = None
        self._count(out is not None)
        return out

    def put_object(self, key: str, value: Any) -> None:
        with atomic_path(self._path(key, ".pkl")) as tmp:
            tmp.write_bytes(pickle.dumps(value))

    def _count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
