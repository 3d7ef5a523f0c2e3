"""Base class of every synthetic-fraud generator (template-method design, like SDV).

The public methods (`fit`, `sample`, `save`, `load`, `get_parameters`) validate their input and
manage state once, here; subclasses only implement `_fit` and `_sample` on a clean table:

* `_fit(data, train, seed)` gets the seed set conformed to the schema, restricted to the
  *modelled* columns (constant and all-NaN columns removed), with a fresh RangeIndex. It may
  return a dict that is merged into `fit_info` (epochs, final_loss, loss_curve, notes...).
* `_sample(n, seed)` returns `n` rows (n >= 1) of the modelled columns.
* `_sample_targeted(counts, seed)` returns, for each value of the target column, that many rows of the
  modelled columns plus the target column (targeted generation: `fit(..., target=values)` first).

Everything a generator returns is post-processed here: constant columns get back their value
and all-NaN columns NaN/None, categorical values outside the set seen in the seed set are
replaced by the seed set's most frequent value (a safety net: no generator should produce
them), and `Schema.conform` gives the schema dtypes (integers rounded).

Randomness: numpy's global RNG, `random` and torch (when the generator uses it) are seeded
with `seed` around `_fit` and `_sample`, and their previous states are restored afterwards, so
the same seed gives the same rows and callers' RNG streams are left alone.

Errors: anything raised deep inside SDV / torch / imbalanced-learn is re-raised as a one-line
`GeneratorError` naming the generator, the number of seed rows and a short reason.
"""

from __future__ import annotations

import contextlib
import copy
import random
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar

import cloudpickle
import numpy as np
import pandas as pd

from pipeline.core.checks import Check, Section, validate_all
from pipeline.core.errors import ConfigError, GeneratorError, PipelineError
from pipeline.core.files import atomic_path
from pipeline.core.schema import Schema, as_text, none_where
from pipeline.data.segments import MISSING_SEGMENT

_MAX_WARNINGS_KEPT = 10


def short_reason(error: BaseException, limit: int = 200) -> str:
    """`TypeName: first line of the message`, shortened to `limit` characters."""
    text = " ".join(str(error).split())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def seeded(seed: int, use_torch: bool = False) -> Iterator[None]:
    """Seed `random`, numpy's global RNG and (if used or already imported) torch; restore after."""
    torch = sys.modules.get("torch")
    if torch is None and use_torch:
        import torch  # noqa: F811  (imported lazily: only the SDV generators need it)
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.get_rng_state() if torch is not None else None
    random.seed(seed)
    np.random.seed(seed)
    if torch is not None:
        torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if torch is not None and torch_state is not None:
            torch.set_rng_state(torch_state)


def _check_seed(seed: Any, where: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= int(seed) < 2**32:
        raise ConfigError(f"{where}: seed must be an integer in [0, 2**32), got {seed!r}; fix the seed in params.yaml")
    return int(seed)


def modelled_columns(data: pd.DataFrame, schema: Schema) -> tuple[list[str], dict[str, Any], list[str]]:
    """Preprocessing: the feature columns a generator models, the constant ones (column -> its one value) and the
    all-NaN ones, which are removed before fitting and restored by `sample`."""
    constant: dict[str, Any] = {}
    all_nan: list[str] = []
    for col in schema.feature_names:
        values = data[col]
        if values.isna().all():
            all_nan.append(col)
        elif values.notna().all() and values.nunique() == 1:
            constant[col] = values.iloc[0]
    model_columns = [c for c in schema.feature_names if c not in constant and c not in all_nan]
    return model_columns, constant, all_nan


class Generator(ABC):
    """Fits on the seed set (fraud rows of the training split) and samples new synthetic fraud rows.

    Subclasses declare `name`, `family`, `min_rows` and `parameters` (their hyperparameters, each
    with a declared check and a default) and implement `_fit` / `_sample`. How many levels a categorical column may have
    is the input contract's decision (`pipeline.data.contract`, `data.max_categories`), not a generator's.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    min_rows: ClassVar[int]
    #: hyperparameters of this generator: name -> (check, default); `checks` says what each accepts
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {}
    #: whether torch's RNG must be seeded around fit/sample
    uses_torch: ClassVar[bool] = False

    # -- construction ------------------------------------------------------------------
    def __init__(self, **hyperparameters: Any):
        if "max_categories" in hyperparameters:
            raise ConfigError(
                f"'max_categories' is no longer a hyperparameter of generator '{self.name}': the "
                "input contract limits categories for every generator at once; remove it here and "
                "set data.max_categories in params.yaml instead"
            )
        params = validate_all(
            Section(dict(self.parameters)), copy.deepcopy(hyperparameters), f"generator '{self.name}' hyperparameters"
        )
        self._hyperparameter_names = list(params)
        for key, value in params.items():
            setattr(self, key, value)
        self.fit_info: dict[str, Any] = {}
        self._fitted = False

    @classmethod
    def hyperparameter_defaults(cls) -> dict[str, Any]:
        """Every hyperparameter this generator accepts, with its default value."""
        return {k: copy.deepcopy(default) for k, (_, default) in cls.parameters.items()}

    def get_parameters(self) -> dict[str, Any]:
        """The hyperparameters of this generator (passed values plus defaults), for logging."""
        return {k: copy.deepcopy(getattr(self, k)) for k in self._hyperparameter_names}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_parameters().items())
        return f"{type(self).__name__}({params})"

    # -- fit -----------------------------------------------------------------------------
    def fit(
        self,
        seed_set: pd.DataFrame,
        schema: Schema,
        train: pd.DataFrame | None = None,
        seed: int = 0,
        target: pd.Series | None = None,
    ) -> Generator:
        """Fit on the seed set (fraud rows of the training split; extra columns are ignored).

        `train` is the whole training split (features and `schema.label`); only oversamplers use
        it, to see the legitimate rows. Constant and all-NaN columns are removed before fitting
        and restored by `sample`. `target` (one value per seed row, named after its column: a categorical
        feature or a meta column) enables `sample_targeted`: SDV models learn the column with the rest,
        oversamplers keep it to oversample each segment on its own.

        The steps: check the inputs, learn the target, check the number of rows, split off the constant and
        all-NaN columns (what `sample` restores), fit the subclass's model, write `fit_info`.
        """
        seed = self._check_fit_inputs(seed_set, schema, train, seed)
        self._fitted = False
        self.fit_info = {}
        data = schema.conform(seed_set).reset_index(drop=True)
        n_rows = len(data)
        self._learn_target(target, schema, n_rows)
        self._check_enough_rows(n_rows)
        model_columns, constant, all_nan = modelled_columns(data, schema)
        self._remember_columns(data, schema, model_columns, constant, all_nan)
        info, seconds, messages = self._fit_model(data, model_columns, train, seed)
        self.fit_info = self._fit_report(info, seconds, messages, seed, n_rows, constant, all_nan)
        self._fitted = True
        return self

    def _check_fit_inputs(self, seed_set: Any, schema: Any, train: Any, seed: Any) -> int:
        """Validation: the seed (returned as an int), the schema, the seed set and the training split."""
        seed = _check_seed(seed, f"{self.name}.fit")
        if not isinstance(schema, Schema):
            raise GeneratorError(
                f"{self.name}.fit needs a pipeline.core.schema.Schema, got {type(schema).__name__}; "
                "pass Schema.load(...)"
            )
        if not isinstance(seed_set, pd.DataFrame):
            raise GeneratorError(
                f"{self.name}.fit needs the seed set as a pandas DataFrame, got {type(seed_set).__name__}; "
                "pass a DataFrame"
            )
        if train is not None and not isinstance(train, pd.DataFrame):
            raise GeneratorError(
                f"{self.name}.fit needs train as a pandas DataFrame or None, got {type(train).__name__}; "
                "pass the training split"
            )
        return seed

    def _learn_target(self, target: pd.Series | None, schema: Schema, n_rows: int) -> None:
        """Validation and state of targeted generation: the target column's name and its value per seed row
        (missing values as `MISSING_SEGMENT`); both None without a target."""
        self._target_name: str | None = None
        self._target_values: np.ndarray | None = None
        if target is not None:
            if not isinstance(target, pd.Series) or len(target) != n_rows or target.name is None:
                raise GeneratorError(
                    f"{self.name}.fit needs target as a named Series with one value per seed row "
                    f"({n_rows}); pass seed rows' values of the target column"
                )
            name = str(target.name)
            if name in schema.feature_names and not schema.feature(name).is_categorical:
                raise GeneratorError(
                    f"augment.target.column '{name}' is a numerical feature; targeting needs a "
                    "categorical feature or a meta column (or segment it into a meta column first)"
                )
            self._target_name = name
            self._target_values = (
                as_text(target.reset_index(drop=True))
                .map(lambda v: MISSING_SEGMENT if v is None else v)
                .to_numpy(dtype=object)
            )

    def _check_enough_rows(self, n_rows: int) -> None:
        """Validation: at least `min_rows` seed rows."""
        if n_rows < self.min_rows:
            raise GeneratorError(
                f"{self.name} needs at least {self.min_rows} seed rows but the seed set has {n_rows}; "
                "add fraud rows (e.g. a longer training window) or use a generator with a lower minimum "
                "such as random_oversample"
            )

    def _remember_columns(
        self, data: pd.DataFrame, schema: Schema, model_columns: list[str], constant: dict[str, Any], all_nan: list[str]
    ) -> None:
        """Preprocessing state `sample` needs: the schema, the columns (all and modelled), the constant columns'
        values, the all-NaN columns, and per categorical column the values seen and the most frequent one."""
        self._schema = schema
        self._columns = list(schema.feature_names)
        self._model_columns = model_columns
        self._constant_values = {k: (v.item() if hasattr(v, "item") else v) for k, v in constant.items()}
        self._all_nan_columns = all_nan
        self._seen_categories = {}
        self._category_mode = {}
        for col in schema.categorical:
            values = data[col]
            self._seen_categories[col] = set(values.dropna().unique()) | ({None} if values.isna().any() else set())
            if values.notna().any():
                self._category_mode[col] = values.mode(dropna=True).sort_values().iloc[0]

    def _fit_model(
        self, data: pd.DataFrame, model_columns: list[str], train: pd.DataFrame | None, seed: int
    ) -> tuple[dict[str, Any], float, list[str]]:
        """The fit itself: the subclass's `_fit` on the modelled columns, seeded, its warnings caught and deep
        library errors made one line. Returns what `_fit` returned, the seconds it took and its distinct warning
        messages (none fitted without modelled columns)."""
        info: dict[str, Any] = {}
        caught: list[warnings.WarningMessage] = []
        start = time.perf_counter()
        if model_columns:
            try:
                with seeded(seed, self.uses_torch), warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    info = self._fit(data[model_columns].copy(), train, seed) or {}
            except PipelineError:
                raise
            except Exception as error:  # deep library errors become one line
                raise GeneratorError(
                    f"{self.name} failed to fit on {len(data)} seed rows: {short_reason(error)}; "
                    f"check the seed set, change the hyperparameters of {self.name} or choose another generator"
                ) from error
        seconds = time.perf_counter() - start

        messages: list[str] = []
        for w in caught:
            text = " ".join(str(w.message).split())[:200]
            if text not in messages:
                messages.append(text)
        return info, seconds, messages

    def _fit_report(
        self,
        info: dict[str, Any],
        seconds: float,
        messages: list[str],
        seed: int,
        n_rows: int,
        constant: dict[str, Any],
        all_nan: list[str],
    ) -> dict[str, Any]:
        """The notes: `fit_info`, what the fit did (rows, columns, seconds, warnings) with `_fit`'s own entries
        merged in and its notes followed by the removed columns' note."""
        fit_info: dict[str, Any] = {
            "fit_seconds": round(seconds, 4),
            "rows": n_rows,
            "columns": len(self._columns),
            "modelled_columns": len(self._model_columns),
            "epochs": None,
            "final_loss": None,
            "loss_curve": [],
            "dropped_constant_columns": sorted(constant),
            "dropped_all_nan_columns": sorted(all_nan),
            "seed": seed,
            "notes": [],
            "warnings": messages[:_MAX_WARNINGS_KEPT],
        }
        notes = info.pop("notes", [])
        fit_info.update(info)
        fit_info["notes"] = list(notes)
        if constant or all_nan:
            fit_info["notes"].append(
                f"removed {len(constant)} constant and {len(all_nan)} all-NaN column(s) before fitting; "
                "sample() restores them"
            )
        return fit_info

    # -- sample --------------------------------------------------------------------------
    def sample(self, n: int, seed: int = 0) -> pd.DataFrame:
        """`n` new synthetic fraud rows with the schema's feature columns and dtypes."""
        if not getattr(self, "_fitted", False):
            raise GeneratorError(f"{self.name} generator is not fitted; call fit(seed_set, schema) before sample()")
        if isinstance(n, bool) or not isinstance(n, Integral):
            raise GeneratorError(f"{self.name}.sample needs a whole number of rows, got {n!r}; pass an integer >= 0")
        n = int(n)
        if n < 0:
            raise GeneratorError(f"{self.name}.sample cannot give {n} rows; pass n >= 0")
        seed = _check_seed(seed, f"{self.name}.sample")
        if n == 0:
            return self._schema.conform(pd.DataFrame({c: pd.Series([], dtype=object) for c in self._columns}))

        if self._model_columns:
            raw = self._guarded_sample(lambda: self._sample(n, seed), seed, n, f"{n} rows", "refit it")
        else:
            raw = pd.DataFrame(index=pd.RangeIndex(n))
        return self._finish(raw)

    def _finish(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Rows as the schema has them: constant and all-NaN columns restored, unseen categories replaced, dtypes
        conformed; the target column (when it is not a feature) kept after the features when `raw` has it."""
        raw = raw.reset_index(drop=True)
        out = raw[self._model_columns].copy() if self._model_columns else pd.DataFrame(index=raw.index)
        for col, value in self._constant_values.items():
            out[col] = value
        for col in self._all_nan_columns:
            out[col] = None if self._schema.feature(col).is_categorical else np.nan
        out = out[self._columns]
        for col in self._schema.categorical:
            if col in self._model_columns:
                out[col] = self._keep_seen(col, out[col])
        out = self._schema.conform(out)
        extra = getattr(self, "_target_name", None)
        if extra and extra not in self._columns and extra in raw.columns:
            out[extra] = as_text(raw[extra]).to_numpy(dtype=object)
        return out

    def _guarded_sample(self, draw, seed: int, n: int, what: str, fix: str) -> pd.DataFrame:
        """`draw()` seeded, its warnings silenced, a library error turned into one line; exactly n rows or an error."""
        try:
            with seeded(seed, self.uses_torch), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = draw()
        except PipelineError:
            raise
        except Exception as error:
            raise GeneratorError(
                f"{self.name} failed to sample {what}: {short_reason(error)}; {fix} or choose another generator"
            ) from error
        if len(raw) != n:
            raise GeneratorError(
                f"{self.name} returned {len(raw)} rows instead of {n}; {fix} or choose another generator"
            )
        return raw

    # -- targeted sampling ---------------------------------------------------------------
    #: batches (SDV: tries per batch) a conditional sample may take before it fails with one line, not a hang
    max_condition_tries: ClassVar[int] = 50

    def _with_target(self, data: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
        """For models that learn the target column with the features (SDV, arf): the modelled columns plus the
        target's seed values when it is a meta column. Sets `_target_modelled` (False: no target, or a constant
        feature whose one value every row has)."""
        target = self.target_column
        self._target_modelled = target is not None and target in data.columns
        if target is not None and target not in data.columns:
            if target in self._schema.feature_names:  # a constant or all-NaN feature
                notes.append(f"target column {target} has one value in the seed set; targeted rows are plain rows")
            else:
                data = data.assign(**{target: self._target_values})
                self._target_modelled = True
                notes.append(f"target column {target} modelled with the features (dropped from the detector's input)")
        return data

    def _unmet(self, value: str, got: int, wanted: int, tries: str) -> GeneratorError:
        """The one line for a segment a conditional sample could not fill."""
        return GeneratorError(
            f"{self.name} made only {got} of {wanted} rows with {self._target_name}={value!r} in "
            f"{tries}; give {value!r} a smaller weight in augment.target.weights, or choose another "
            "generator"
        )

    @property
    def target_column(self) -> str | None:
        """The column this generator was fitted to target (None: fitted without one)."""
        return getattr(self, "_target_name", None)

    def target_counts(self) -> dict[str, int]:
        """Seed rows per value of the target column (missing values under `MISSING_SEGMENT`), largest first."""
        _, per_row = self._require_target("target_counts")
        values, counts = np.unique(per_row.astype(str), return_counts=True)
        order = sorted(zip(values, counts), key=lambda vc: (-vc[1], vc[0]))
        return {str(v): int(c) for v, c in order}

    def _require_target(self, what: str) -> tuple[str, np.ndarray]:
        """The target column's name and its value per seed row; an error when the generator was not fitted with
        one."""
        if not getattr(self, "_fitted", False):
            raise GeneratorError(f"{self.name} generator is not fitted; call fit(seed_set, schema) before {what}()")
        name, values = getattr(self, "_target_name", None), getattr(self, "_target_values", None)
        if name is None or values is None:
            raise GeneratorError(
                f"{self.name} was fitted without a target column; refit it with augment.target set "
                f"(fit(..., target=values)) to use {what}()"
            )
        return name, values

    def sample_targeted(self, counts: dict[str, int], seed: int = 0) -> pd.DataFrame:
        """counts[v] new rows whose target column is v, for each value v (in the order given), with the feature
        columns and the target column. A value no seed row has, or the missing value, is an error naming it."""
        col, _ = self._require_target("sample_targeted")
        seed = _check_seed(seed, f"{self.name}.sample_targeted")
        known = self.target_counts()
        for value, k in counts.items():
            if isinstance(k, bool) or not isinstance(k, Integral) or k < 0:
                raise GeneratorError(
                    f"{self.name}.sample_targeted needs whole numbers >= 0 of rows, got {k!r} for {col}={value!r}"
                )
            if k and value == MISSING_SEGMENT:
                raise GeneratorError(f"{self.name} cannot target rows whose {col} is missing; give that value weight 0")
            if k and value not in known:
                raise GeneratorError(
                    f"augment.target asks for {k} rows with {col}={value!r}, a value no seed fraud "
                    f"has (values: {', '.join(v for v in known if v != MISSING_SEGMENT)}); fix "
                    "augment.target.weights"
                )
        wanted = {str(v): int(k) for v, k in counts.items() if k}
        total = sum(wanted.values())
        if total == 0:
            out = self._finish(pd.DataFrame({c: pd.Series([], dtype=object) for c in self._model_columns}))
            out[col] = pd.Series([], dtype=object)
            return out
        raw = self._guarded_sample(
            lambda: self._sample_targeted(wanted, seed),
            seed,
            total,
            f"{total} targeted rows by {col}",
            "refit it, change augment.target",
        )
        target_values = as_text(raw[col]).to_numpy(dtype=object)
        out = self._finish(raw)
        out[col] = target_values  # a categorical feature keeps the value asked for
        return out

    def _keep_seen(self, col: str, values: pd.Series) -> pd.Series:
        seen = self._seen_categories[col]
        as_str = none_where(values, values.isna()).map(lambda v: v if v is None else str(v))
        bad = as_str.map(lambda v: v not in seen)
        if bad.any():
            mode = self._category_mode.get(col)
            as_str = none_where(as_str, bad) if mode is None else as_str.where(~bad, mode)
        return as_str

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted generator with cloudpickle (atomically)."""
        if not getattr(self, "_fitted", False):
            raise GeneratorError(f"{self.name} generator is not fitted; call fit() before save()")
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                cloudpickle.dump(self, handle)

    @classmethod
    def load(cls, path: str | Path) -> Generator:
        """Read a generator written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise GeneratorError(
                f"generator file {path} not found; run the fit stage (dvc repro fit@<name>-<fit seed>) first"
            )
        try:
            with open(path, "rb") as handle:
                obj = cloudpickle.load(handle)
        except Exception as error:
            raise GeneratorError(
                f"generator file {path} cannot be read ({short_reason(error, 120)}); delete it and refit the generator"
            ) from error
        if not isinstance(obj, cls):
            raise GeneratorError(
                f"{path} holds a {type(obj).__name__}, not a {cls.__name__}; delete it and refit the generator"
            )
        return obj

    # -- subclass hooks ------------------------------------------------------------------
    @abstractmethod
    def _fit(self, data: pd.DataFrame, train: pd.DataFrame | None, seed: int) -> dict[str, Any] | None:
        """Fit on `data` (modelled seed-set columns). Return extra fit_info entries."""

    @abstractmethod
    def _sample(self, n: int, seed: int) -> pd.DataFrame:
        """Return `n` rows of the modelled columns."""

    def _sample_targeted(self, counts: dict[str, int], seed: int) -> pd.DataFrame:
        """Return counts[v] rows with target column v for each v: the modelled columns plus the target column."""
        raise GeneratorError(f"{self.name} cannot sample by segment; choose an SDV generator or an oversampler")
