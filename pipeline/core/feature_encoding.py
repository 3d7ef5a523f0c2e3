"""One numeric encoding of feature tables, shared by the oversamplers and the quality gate's distances.

* numerical columns: NaN -> the reference median (0 when the reference has none), then, with
  `standardize`, centred and scaled by the reference mean and standard deviation (a constant
  column keeps scale 1), so no column dominates a distance because of its unit;
* categorical columns: a missing value becomes `MISSING_TOKEN` (a category of its own); with
  `one_hot`, one 0/1 column per category in `categories` (a value outside them encodes as zeros),
  decoded back by argmax.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

from pipeline.core.schema import MISSING_TOKEN, none_where

Table = TypeVar("Table", pd.DataFrame, pd.Series)


def tokens(values: Table) -> Table:
    """Categorical values as objects, missing ones as `MISSING_TOKEN`."""
    return values.astype(object).where(values.notna(), MISSING_TOKEN)


class Encoder:
    """Fitted on a reference table (the seed set); `encode` turns any table with the same columns into numbers."""

    def __init__(
        self,
        reference: pd.DataFrame,
        num_cols: list[str],
        cat_cols: list[str],
        standardize: bool = True,
        categories: dict[str, list] | None = None,
    ):
        self.num_cols, self.cat_cols = list(num_cols), list(cat_cols)
        nums = self._numbers(reference)
        self.medians = nums.median().fillna(0.0)
        filled = nums.fillna(self.medians)
        if standardize:
            self.means = filled.mean()
            std = filled.std(ddof=0)
            self.stds = std.where((std > 0) & std.notna(), 1.0)
        else:
            self.means = pd.Series(0.0, index=self.num_cols)
            self.stds = pd.Series(1.0, index=self.num_cols)
        self.categories = (
            categories if categories is not None else {c: sorted(set(tokens(reference[c]))) for c in self.cat_cols}
        )
        self.reference_has_missing = bool(nums.isna().any().any())

    def _numbers(self, df: pd.DataFrame) -> pd.DataFrame:
        return df[self.num_cols].apply(pd.to_numeric, errors="coerce").astype("float64")

    def numeric(self, df: pd.DataFrame) -> pd.DataFrame:
        """Numerical columns, imputed and scaled."""
        return (self._numbers(df).fillna(self.medians) - self.means) / self.stds

    def one_hot(self, df: pd.DataFrame) -> np.ndarray:
        """[scaled numerical columns | one 0/1 block per categorical column]."""
        blocks = [self.numeric(df).to_numpy(dtype="float64")]
        for c in self.cat_cols:
            values = tokens(df[c]).to_numpy()
            cats = self.categories[c]
            blocks.append(
                np.stack([(values == v) for v in cats], axis=1).astype("float64") if cats else np.zeros((len(df), 0))
            )
        return np.hstack(blocks)

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        """The inverse of `one_hot`: numbers unscaled, each categorical block decoded by argmax (missing -> None)."""
        matrix = np.asarray(matrix, dtype="float64")
        k = len(self.num_cols)
        nums = pd.DataFrame(matrix[:, :k], columns=self.num_cols)
        cats = pd.DataFrame(index=range(len(matrix)))
        pos = k
        for c in self.cat_cols:
            values = self.categories[c]
            cats[c] = np.asarray(values, dtype=object)[matrix[:, pos : pos + len(values)].argmax(axis=1)]
            pos += len(values)
        return self.restore(nums, cats)

    def restore(self, nums: pd.DataFrame, cats: pd.DataFrame) -> pd.DataFrame:
        """Scaled numbers back to their units; `MISSING_TOKEN` back to None."""
        out = pd.concat([(nums * self.stds + self.means).reset_index(drop=True), cats.reset_index(drop=True)], axis=1)
        for c in self.cat_cols:
            out[c] = none_where(out[c], out[c] == MISSING_TOKEN)
        return out
