"""Adversarial random forests (`arf`): arfpy (MIT) behind the generator interface.

ARF (Watson et al., AISTATS 2023) fits a random forest to tell the real rows from rows with every
column shuffled, repeats on its own synthetic rows until the forest can no longer tell them apart,
then estimates a density in each leaf (truncated normal per numeric column, class frequencies per
categorical one) and samples leaves and values from it. It is fast on CPUs, handles categorical
columns natively and needs nothing beyond numpy, pandas and scikit-learn - and it is not under the
Business Source License that covers SDV.

Adapted here:

* arfpy 0.1.1 calls `np.in1d`, which numpy 2 removed; `np.isin` is the same function for 1-d input,
  so the name is bound to it (only if missing) before arfpy runs.
* The random forests get `random_state=seed`; arfpy's other draws use numpy's global RNG, which the
  base class seeds around fit and sample.
* Missing numbers are imputed with the seed-set median before fitting (synthetic rows never contain
  NaN in those columns); a missing category is a category of its own (`MISSING_TOKEN`) and comes back
  as missing.
* Targeted sampling draws batches and keeps the rows of each wanted segment (the target column is
  modelled with the features when it is a meta column), at most `max_condition_tries` batches, then
  fails with one line naming the segment.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pipeline.core.checks import Bool, Check, Float, Int
from pipeline.core.feature_encoding import tokens
from pipeline.core.schema import MISSING_TOKEN, none_where
from pipeline.generators.base import Generator


def _arf_module():
    if not hasattr(np, "in1d"):  # numpy 2 removed the alias arfpy 0.1.1 still calls
        np.in1d = np.isin  # type: ignore[attr-defined]
    from arfpy import arf

    return arf


class ARFGenerator(Generator):
    """arfpy's adversarial random forest."""

    name: ClassVar[str] = "arf"
    family: ClassVar[str] = "forest"
    min_rows: ClassVar[int] = 10
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {
        "num_trees": (Int(1), 30),
        "min_node_size": (Int(1), 5),
        "max_iters": (Int(0), 10),
        "delta": (Float(0.0, 0.5), 0.0),
        "early_stop": (Bool(), True),
        "n_jobs": (Int(1), 1),
    }

    # hyperparameters (set from `parameters` by Generator.__init__)
    num_trees: int
    min_node_size: int
    max_iters: int
    delta: float
    early_stop: bool
    n_jobs: int

    def _frame(self, data: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=data.index)
        for col in data.columns:
            if col in self._schema.feature_names and not self._schema.feature(col).is_categorical:
                out[col] = pd.to_numeric(data[col], errors="coerce").astype("float64").fillna(self._medians[col])
            else:
                out[col] = tokens(data[col]).astype(str)
        return out

    def _fit(self, data: pd.DataFrame, train: pd.DataFrame | None, seed: int) -> dict[str, Any]:
        notes: list[str] = []
        numeric = [c for c in data.columns if not self._schema.feature(c).is_categorical]
        self._medians = {
            c: float(pd.to_numeric(data[c], errors="coerce").median()) if data[c].notna().any() else 0.0
            for c in numeric
        }
        if any(data[c].isna().any() for c in numeric):
            notes.append("NaN in numerical columns imputed with the seed-set median before fitting")
        data = self._with_target(data, notes)
        arf = _arf_module()
        frame = self._frame(data)
        self._model = arf.arf(
            x=frame,
            num_trees=self.num_trees,
            delta=self.delta,
            max_iters=self.max_iters,
            early_stop=self.early_stop,
            verbose=False,
            min_node_size=self.min_node_size,
            random_state=seed,
            n_jobs=self.n_jobs,
        )
        self._model.forde()
        self._frame_columns = list(frame.columns)
        return {"notes": notes, "discriminator_accuracy": [float(a) for a in getattr(self._model, "acc", [])]}

    def _forge(self, n: int) -> pd.DataFrame:
        raw = self._model.forge(n=n)
        raw.columns = self._frame_columns
        out = pd.DataFrame(index=raw.index)
        for col in self._frame_columns:
            if col in self._schema.feature_names and not self._schema.feature(col).is_categorical:
                out[col] = pd.to_numeric(raw[col], errors="coerce").astype("float64")
            else:
                values = raw[col].astype(object).map(lambda v: None if v is None else str(v))
                out[col] = none_where(values, values == MISSING_TOKEN)
        return out.reset_index(drop=True)

    def _sample(self, n: int, seed: int) -> pd.DataFrame:
        return self._forge(n)

    def _sample_targeted(self, counts: dict[str, int], seed: int) -> pd.DataFrame:
        col, _ = self._require_target("sample_targeted")
        if not self._target_modelled:  # a constant feature: every row has the one value
            return self._forge(sum(counts.values())).assign(**{col: next(iter(counts))})
        got: dict[str, list[pd.DataFrame]] = {v: [] for v in counts}
        missing = dict(counts)
        for _ in range(self.max_condition_tries):
            batch = self._forge(max(4 * sum(missing.values()), 100))
            for value in list(missing):
                rows = batch[batch[col] == value].iloc[: missing[value]]
                if len(rows):
                    got[value].append(rows)
                    missing[value] -= len(rows)
                if missing[value] == 0:
                    del missing[value]
            if not missing:
                return pd.concat([part for v in counts for part in got[v]], ignore_index=True)
        value, k = next(iter(missing.items()))
        raise self._unmet(value, counts[value] - k, counts[value], f"{self.max_condition_tries} batches")
