"""imbalanced-learn oversamplers as generators: smote, borderline_smote, adasyn, random_oversample.

They all need the legitimate rows, so `fit` requires `train` (the whole training split with
`schema.label`); the minority class is the seed set itself and every legitimate row of the
training split is used (no subsampling). `sample(n, seed)` runs `fit_resample` with
`sampling_strategy={1: n_fraud + n}` and `random_state=seed`, and returns only the new rows
(imbalanced-learn appends them after the original rows).

Preprocessing (SMOTE family; `random_oversample` copies rows and needs none):

* NaN in numerical columns is imputed with the seed-set median before resampling (synthetic
  rows therefore never contain NaN in those columns);
* with `standardize=True` (default) numerical columns are scaled by the seed-set mean and
  standard deviation before the neighbour search and scaled back afterwards (SMOTE's
  interpolation is linear, so only the choice of neighbours changes: no column dominates the
  distance because of its unit);
* categorical columns: `smote` uses SMOTENC (SMOTEN when every modelled column is
  categorical), whose categorical values come from the minority neighbours; `borderline_smote`
  and `adasyn` one-hot encode the categories seen in the seed set (values only seen in
  legitimate rows encode as all zeros), interpolate, and decode each block by argmax. A missing
  category is treated as a category of its own and decoded back to None.

`k_neighbors` (and adasyn's `n_neighbors`) are capped at n_fraud - 1 and `m_neighbors` at the
number of rows - 1; fit_info records the values used. ADASYN decides per seed row how many rows
to make (rounded), so it is asked for n + n_fraud rows and the extra rows are dropped at random
(seeded); should it still return too few, the missing ones are asked for again, so exactly n
rows come back.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pipeline.core.checks import Bool, Check, Int, Str
from pipeline.core.errors import GeneratorError
from pipeline.core.feature_encoding import Encoder, tokens
from pipeline.generators.base import Generator


class Oversampler(Generator):
    """Common code: legitimate rows, encoding, exact-count resampling, new-row extraction."""

    family: ClassVar[str] = "oversampler"
    min_rows: ClassVar[int] = 6
    encodes_categoricals: ClassVar[bool] = True  # one-hot for methods without native support
    _probe_rows: ClassVar[int] = 20
    #: the hyperparameter that sets the number of minority neighbours (capped by `_k`)
    neighbours_parameter: ClassVar[str] = "k_neighbors"

    def _k(self) -> int:
        """The neighbour count actually used: the configured one, capped at n_fraud - 1."""
        return max(1, min(getattr(self, self.neighbours_parameter), self._n_fraud - 1))

    # -- fit -----------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, train: pd.DataFrame | None, seed: int) -> dict[str, Any]:
        schema = self._schema
        if train is None:
            raise GeneratorError(
                f"{self.name} needs the training split to see legitimate rows; "
                "call fit(seed_set, schema, train=training_split)"
            )
        if schema.label not in train.columns:
            raise GeneratorError(
                f"the training split passed to {self.name} lacks the label column '{schema.label}'; "
                f"pass the whole training split (features and '{schema.label}') as train"
            )
        labels = pd.to_numeric(train[schema.label], errors="coerce")
        legit = train.loc[(labels == 0).to_numpy()]
        if legit.empty:
            raise GeneratorError(
                f"{self.name} needs legitimate rows but the training split has none with "
                f"{schema.label}=0; check the split"
            )
        legit = schema.conform(legit)[list(data.columns)].reset_index(drop=True)
        self._n_fraud = len(data)
        self._n_legit = len(legit)
        notes: list[str] = []
        self._prepare(data, legit, notes)
        # a small trial run surfaces data problems (no border rows, no legitimate neighbours) now
        self._resample(min(self._probe_rows, self._n_fraud), seed)
        return {"notes": notes, "legit_rows": self._n_legit, **self._used_parameters()}

    def _used_parameters(self) -> dict[str, Any]:
        return {}

    def _prepare(self, seed_rows: pd.DataFrame, legit: pd.DataFrame, notes: list[str]) -> None:
        """Build the resampling matrix X (legit rows, then seed rows) and labels y."""
        schema = self._schema
        columns = list(seed_rows.columns)
        self._num_cols = [c for c in columns if not schema.feature(c).is_categorical]
        self._cat_cols = [c for c in columns if schema.feature(c).is_categorical]
        both = pd.concat([legit, seed_rows], ignore_index=True)
        self._y = np.r_[np.zeros(len(legit), dtype=int), np.ones(len(seed_rows), dtype=int)]

        self._encoder = Encoder(
            seed_rows, self._num_cols, self._cat_cols, standardize=getattr(self, "standardize", False)
        )
        if self._encoder.reference_has_missing:
            notes.append("NaN in numerical columns imputed with the seed-set median before resampling")
        # the resampling matrix: numbers, or a frame of numbers and category tokens (SMOTENC-style samplers)
        self._X: np.ndarray | pd.DataFrame
        if self._cat_cols and self.encodes_categoricals:
            self._X = self._encoder.one_hot(both)
            notes.append("categorical columns one-hot encoded for resampling and decoded by argmax")
        elif self._cat_cols:
            self._X = pd.concat([self._encoder.numeric(both), tokens(both[self._cat_cols])], axis=1)[
                self._num_cols + self._cat_cols
            ]
        else:
            self._X = self._encoder.numeric(both).to_numpy(dtype="float64")

    # -- resampling ----------------------------------------------------------------------
    def _make_sampler(self, strategy: dict[int, int], seed: int):
        raise NotImplementedError

    def _new_rows(self, n: int, seed: int):
        """Run fit_resample asking for n new fraud rows; return (new rows, count)."""
        sampler = self._make_sampler({1: self._n_fraud + n}, seed)
        X_res, y_res = sampler.fit_resample(self._X, self._y)
        n_orig = len(self._y)
        if len(y_res) < n_orig or not np.array_equal(np.asarray(y_res[:n_orig]), self._y):
            raise GeneratorError(
                f"{self.name}: imbalanced-learn did not keep the original rows first; "
                "use the imbalanced-learn version of requirements.lock"
            )
        new = X_res.iloc[n_orig:] if isinstance(X_res, pd.DataFrame) else np.asarray(X_res)[n_orig:]
        return new, len(y_res) - n_orig

    def _resample(self, n: int, seed: int) -> pd.DataFrame:
        new, got = self._new_rows(n, seed)
        if got == 0:
            raise GeneratorError(self._no_rows_message())
        if got > n:
            keep = np.sort(np.random.default_rng(seed).choice(got, size=n, replace=False))
            new = new.iloc[keep] if isinstance(new, pd.DataFrame) else new[keep]
        elif got < n:
            parts = [new]
            missing, attempt = n - got, 1
            while missing > 0 and attempt <= 10:
                more, more_got = self._new_rows(missing, seed + attempt)
                take = min(more_got, missing)
                parts.append(more.iloc[:take] if isinstance(more, pd.DataFrame) else more[:take])
                missing -= take
                attempt += 1
            if missing > 0:
                raise GeneratorError(f"{self.name} produced only {n - missing} of {n} rows; use smote instead")
            new = pd.concat(parts, ignore_index=True) if isinstance(new, pd.DataFrame) else np.vstack(parts)
        return self._decode(new)

    def _no_rows_message(self) -> str:
        return f"{self.name} generated no rows from {self._n_fraud} seed rows; use smote instead"

    def _decode(self, new) -> pd.DataFrame:
        if isinstance(new, pd.DataFrame):  # samplers with native categoricals return the columns as given
            new = new.reset_index(drop=True)
            return self._encoder.restore(new[self._num_cols].astype("float64"), new[self._cat_cols])
        return self._encoder.decode(new)

    def _sample(self, n: int, seed: int) -> pd.DataFrame:
        return self._resample(n, seed)

    #: seed rows a segment needs to be oversampled on its own (interpolation needs two)
    min_segment_rows: ClassVar[int] = 2

    def _sample_targeted(self, counts: dict[str, int], seed: int) -> pd.DataFrame:
        """Per-segment oversampling: for segment v only v's seed rows are the minority class (every legitimate
        row stays), so new rows are made from v's rows and their neighbours within v."""
        col, per_row = self._require_target("sample_targeted")
        segments = per_row.astype(str)
        n_legit = len(self._y) - self._n_fraud
        saved = (self._X, self._y, self._n_fraud)
        parts = []
        try:
            for i, (value, k) in enumerate(counts.items()):
                mine = segments == value
                m = int(mine.sum())
                if m < self.min_segment_rows:
                    raise GeneratorError(
                        f"{self.name} cannot oversample {col}={value!r} on its own: it has {m} seed row(s) and needs "
                        f"{self.min_segment_rows}; give {value!r} weight 0 in augment.target.weights or use "
                        "random_oversample"
                    )
                rows = np.flatnonzero(np.r_[np.ones(n_legit, dtype=bool), mine])
                X = saved[0]
                self._X = X.iloc[rows].reset_index(drop=True) if isinstance(X, pd.DataFrame) else X[rows]
                self._y = saved[1][rows]
                self._n_fraud = m
                parts.append(self._resample(k, seed + i).assign(**{col: value}))
        finally:
            self._X, self._y, self._n_fraud = saved
        return pd.concat(parts, ignore_index=True)


class SMOTEGenerator(Oversampler):
    """SMOTE (numerical only), SMOTENC (mixed) or SMOTEN (categorical only)."""

    name: ClassVar[str] = "smote"
    encodes_categoricals: ClassVar[bool] = False
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {"k_neighbors": (Int(1), 5), "standardize": (Bool(), True)}

    def _used_parameters(self) -> dict[str, Any]:
        if not self._cat_cols:
            method = "SMOTE"
        elif not self._num_cols:
            method = "SMOTEN"
        else:
            method = "SMOTENC"
        return {"method": method, "k_neighbors_used": self._k()}

    def _make_sampler(self, strategy, seed):
        from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC

        k = self._k()
        if not self._cat_cols:
            return SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
        if not self._num_cols:
            return SMOTEN(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
        cat_idx = list(range(len(self._num_cols), len(self._num_cols) + len(self._cat_cols)))
        return SMOTENC(categorical_features=cat_idx, sampling_strategy=strategy, k_neighbors=k, random_state=seed)


class BorderlineSMOTEGenerator(Oversampler):
    """Borderline-SMOTE: interpolates only from seed rows with many legitimate neighbours."""

    name: ClassVar[str] = "borderline_smote"
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {
        "k_neighbors": (Int(1), 5),
        "m_neighbors": (Int(1), 10),
        "kind": (Str(("borderline-1", "borderline-2")), "borderline-1"),
        "standardize": (Bool(), True),
    }

    m_neighbors: int  # hyperparameters (set from `parameters` by Generator.__init__)
    kind: str

    def _m(self) -> int:
        return max(1, min(self.m_neighbors, len(self._y) - 1))

    def _used_parameters(self) -> dict[str, Any]:
        return {"k_neighbors_used": self._k(), "m_neighbors_used": self._m()}

    def _make_sampler(self, strategy, seed):
        from imblearn.over_sampling import BorderlineSMOTE

        return BorderlineSMOTE(
            sampling_strategy=strategy, k_neighbors=self._k(), m_neighbors=self._m(), kind=self.kind, random_state=seed
        )

    def _no_rows_message(self) -> str:
        return (
            f"borderline_smote found no seed row on the class border (none of the {self._n_fraud} has "
            f"between half and all but one legitimate rows among its m_neighbors={self._m()} neighbours), "
            "so it cannot generate rows; change m_neighbors or use smote"
        )


class ADASYNGenerator(Oversampler):
    """ADASYN: more synthetic rows around seed rows with more legitimate neighbours."""

    name: ClassVar[str] = "adasyn"
    neighbours_parameter: ClassVar[str] = "n_neighbors"
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {"n_neighbors": (Int(1), 5), "standardize": (Bool(), True)}

    def _used_parameters(self) -> dict[str, Any]:
        return {"n_neighbors_used": self._k()}

    def _make_sampler(self, strategy, seed):
        from imblearn.over_sampling import ADASYN

        return ADASYN(sampling_strategy=strategy, n_neighbors=self._k(), random_state=seed)

    def _new_rows(self, n, seed):
        # ADASYN rounds each seed row's share of the rows to make, so the total can be off by up
        # to half a row per seed row (or be 0 for small n): ask for n_fraud more, trim later.
        try:
            return super()._new_rows(n + self._n_fraud, seed)
        except RuntimeError as error:  # "Not any neigbours belong to the majority class"
            raise GeneratorError(
                f"adasyn cannot sample: none of the {self._n_fraud} seed rows has a legitimate row among its "
                f"n_neighbors={self._k()} nearest neighbours ({str(error)[:60]}...); use smote"
            ) from error


class RandomOversampleGenerator(Oversampler):
    """Random oversampling: new rows are exact copies of seed rows (drawn with replacement).

    Rows are copied as they are (NaN kept; no imputation, scaling or encoding).
    """

    name: ClassVar[str] = "random_oversample"
    min_rows: ClassVar[int] = 1
    min_segment_rows: ClassVar[int] = 1  # copies rows: one is enough
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {}

    def _prepare(self, seed_rows, legit, notes):
        columns = list(seed_rows.columns)
        self._num_cols = [c for c in columns if not self._schema.feature(c).is_categorical]
        self._cat_cols = [c for c in columns if self._schema.feature(c).is_categorical]
        both = pd.concat([legit, seed_rows], ignore_index=True)
        both[self._num_cols] = both[self._num_cols].apply(pd.to_numeric, errors="coerce").astype("float64")
        both[self._cat_cols] = tokens(both[self._cat_cols])
        self._X = both[self._num_cols + self._cat_cols]
        self._y = np.r_[np.zeros(len(legit), dtype=int), np.ones(len(seed_rows), dtype=int)]
        # copies rows: no imputation, no scaling (the encoder only maps the missing-category token back)
        self._encoder = Encoder(seed_rows.iloc[:0], self._num_cols, self._cat_cols, standardize=False)

    def _make_sampler(self, strategy, seed):
        from imblearn.over_sampling import RandomOverSampler

        return RandomOverSampler(sampling_strategy=strategy, random_state=seed)
