"""Recording which keys of the validated params a stage reads, for the DVC-coverage test: `pipeline.cli` wraps
the params with `recording(params, sink)` when `PIPELINE_RECORD_PARAMS` is set, and the test proves `dvc.yaml`
declares every key each stage read (tests/dvc_coverage.py)."""

from __future__ import annotations

import copy
from typing import Any


class RecordingParams(dict):
    """A read-only view of validated params that records every key read.

    `reads` gets dotted keys: a key read with `[]`/`get` is recorded as a path (its parents are only
    navigation); a mapping whose keys or items are listed (iteration, `items`, `dict(...)`, `**`,
    copying) is recorded as used whole, with a trailing `.*`.
    """

    def __init__(self, data: dict, reads: set[str], prefix: str = ""):
        super().__init__(data)
        self._reads, self._prefix = reads, prefix

    def _path(self, key: Any) -> str:
        return f"{self._prefix}{key}"

    def _wrap(self, key: Any, value: Any) -> Any:
        if self._path(key).split(".")[0] in PLACEMENT_SECTIONS:
            return value
        self._reads.add(self._path(key))
        if isinstance(value, dict):
            return RecordingParams(value, self._reads, self._path(key) + ".")
        return value

    def _whole(self) -> None:
        self._reads.add(f"{self._prefix}*" if self._prefix else "*")

    def __getitem__(self, key):
        return self._wrap(key, super().__getitem__(key))

    def get(self, key, default=None):
        return self._wrap(key, super().__getitem__(key)) if key in self else default

    def __iter__(self):
        self._whole()
        return super().__iter__()

    def keys(self):
        self._whole()
        return super().keys()

    def items(self):
        self._whole()
        return [(k, self._wrap(k, v)) for k, v in super().items()]

    def values(self):
        return [v for _, v in self.items()]

    def copy(self):
        self._whole()
        return copy.deepcopy(dict(super().items()))

    def __deepcopy__(self, memo):
        return self.copy()

    def __setitem__(self, key, value):
        raise TypeError("validated params are read-only")


#: sections that say where work runs, never what it computes (every backend gives identical results, tested):
#: not DVC params of any stage, so moving a run onto a cluster does not rerun it
PLACEMENT_SECTIONS = ("compute",)


def recording(params: dict[str, Any], reads: set[str]) -> RecordingParams:
    """`params` wrapped so that every key read lands in `reads`."""
    return RecordingParams(params, reads)
