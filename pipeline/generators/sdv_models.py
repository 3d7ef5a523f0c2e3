"""SDV single-table synthesizers (SDV 2.0 API) as generators: ctgan, tvae, gaussian_copula, copulagan.

SDV 2.0 specifics handled here (checked against the installed sources):

* metadata is a `sdv.metadata.Metadata` loaded from `{"tables": {name: {"columns": ...}}}`;
  numerical columns no longer accept `computer_representation` (validation error), so it is
  dropped and integer columns get `decimal_places: 0` instead;
* `fit` takes `{table_name: DataFrame}` only (a bare DataFrame raises), and `sample(n)` returns
  `{table_name: DataFrame}`;
* `enable_gpu` replaces `cuda` (SDV's default is True; ours is False);
* `torch_threads` (ours, default 1) sets torch's intra-op threads during fit and sample, and
  restores them after: on the 2-core machine, with other work running, 2 threads made a
  300-epoch CTGAN fit 2-7x slower (51-158 s against 22 s), and a fixed thread count keeps
  float reductions, hence the rows for a given seed, the same on every machine;
* sampling reproducibility: SDV seeds its model with a fixed seed on the first sample after
  `fit`; we call `reset_sampling()` and seed the model with the caller's seed before each sample.

The SDV / torch imports happen inside `_fit`, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar, cast

import pandas as pd

from pipeline.core.checks import Bool, Check, Float, Int, ListOf, MappingOf, Optional, Str
from pipeline.core.errors import GeneratorError
from pipeline.generators.base import Generator, short_reason

TABLE = "fraud"

_DISTRIBUTIONS = ("norm", "beta", "truncnorm", "uniform", "gamma", "gaussian_kde")
_POSITIVE = Int(1)
_LAYERS = ListOf(Int(1), min_len=1)
_RATE = Float(0.0)

_COMMON: dict[str, tuple[Check, Any]] = {
    "enforce_min_max_values": (Bool(), True),
    "enforce_rounding": (Bool(), True),
}
_NETWORK: dict[str, tuple[Check, Any]] = {
    "epochs": (_POSITIVE, 300),
    # when set, epochs = ceil(steps x batch / seed rows): as many gradient steps for 100 seed rows as for 1,000
    # (a fixed epoch count gives a small seed set a few dozen steps); measured: tests/bench/results/small_seeds.md
    "steps": (Optional(_POSITIVE), None),
    "batch_size": (_POSITIVE, 500),
    "embedding_dim": (_POSITIVE, 128),
    "verbose": (Bool(), False),
    "enable_gpu": (Bool(), False),
    "torch_threads": (_POSITIVE, 1),
    **_COMMON,
}
_CTGAN: dict[str, tuple[Check, Any]] = {
    **_NETWORK,
    "generator_dim": (_LAYERS, (256, 256)),
    "discriminator_dim": (_LAYERS, (256, 256)),
    "generator_lr": (_RATE, 2e-4),
    "generator_decay": (_RATE, 1e-6),
    "discriminator_lr": (_RATE, 2e-4),
    "discriminator_decay": (_RATE, 1e-6),
    "discriminator_steps": (_POSITIVE, 1),
    "log_frequency": (Bool(), True),
    "pac": (_POSITIVE, 10),
}
_MARGINALS: dict[str, tuple[Check, Any]] = {
    "numerical_distributions": (Optional(MappingOf(Str(_DISTRIBUTIONS))), None),
    "default_distribution": (Str(_DISTRIBUTIONS), "beta"),
}


class SDVGenerator(Generator):
    """Common code of the SDV synthesizers: metadata, seeding, sampling and loss curves."""

    family: ClassVar[str] = "sdv"
    min_rows: ClassVar[int] = 10
    uses_torch: ClassVar[bool] = True
    synthesizer_class: ClassVar[str]  # class name in sdv.single_table

    # -- helpers -------------------------------------------------------------------------
    def _metadata(self, columns: list[str]):
        from sdv.metadata import Metadata

        schema_columns = self._schema.sdv_metadata_dict()["columns"]
        table: dict[str, dict[str, Any]] = {}
        for col in columns:
            if col not in schema_columns:  # the target column when it is a meta column
                table[col] = {"sdtype": "categorical"}
                continue
            spec = {k: v for k, v in schema_columns[col].items() if k != "computer_representation"}
            if spec.get("sdtype") == "numerical" and self._schema.feature(col).is_integer:
                spec["decimal_places"] = 0
            table[col] = spec
        return Metadata.load_from_dict({"tables": {TABLE: {"columns": table}}})

    def _frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """Numerical columns as float64 (nullable Int64 is not safe in SDV), categoricals as object."""
        out = data.copy()
        for col in out.columns:
            if col not in self._schema.feature_names or self._schema.feature(col).is_categorical:
                out[col] = out[col].astype(object)
            else:
                out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
        return out

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        threads = getattr(self, "torch_threads", None)
        if threads is None:
            yield
            return
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(int(threads))
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def _synthesizer_kwargs(self, data: pd.DataFrame, notes: list[str]) -> dict[str, Any]:
        params = self.get_parameters()
        params.pop("torch_threads", None)
        if params.get("numerical_distributions"):
            # columns removed before fitting (constant / all-NaN) must not be named to SDV
            params["numerical_distributions"] = {
                k: v for k, v in params["numerical_distributions"].items() if k in data.columns
            }
        return params

    # -- template hooks ------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, train: pd.DataFrame | None, seed: int) -> dict[str, Any]:
        import sdv.single_table

        notes: list[str] = []
        data = self._with_target(data, notes)  # a meta target column is learnt too, so rows can be conditioned on it
        kwargs = self._synthesizer_kwargs(data, notes)
        steps = kwargs.pop("steps", None)
        if steps is not None:  # epochs from a number of gradient steps (batches larger than the seed set count once)
            batch = min(int(kwargs["batch_size"]), len(data))
            kwargs["epochs"] = max(1, math.ceil(steps * batch / len(data)))
            notes.append(f"epochs = {kwargs['epochs']}: {steps} steps of {batch} rows over {len(data)} seed rows")
        if "epochs" in kwargs:
            self._epochs_used = int(kwargs["epochs"])
        synth_class = getattr(sdv.single_table, self.synthesizer_class)
        synthesizer = synth_class(self._metadata(list(data.columns)), **kwargs)
        with self._threads():
            synthesizer.fit({TABLE: self._frame(data)})
        self._synthesizer = synthesizer
        info: dict[str, Any] = {"notes": notes, "synthesizer": self.synthesizer_class}
        if "batch_size" in kwargs:
            info["batch_size_used"] = kwargs["batch_size"]
        info.update(self._loss_info())
        return info

    def _loss_info(self) -> dict[str, Any]:
        return {}

    def _sample(self, n: int, seed: int) -> pd.DataFrame:
        synthesizer = self._synthesizer
        synthesizer.reset_sampling()
        synthesizer._set_random_state(seed)  # SDV's own hook; otherwise a fixed seed is used
        with self._threads():
            out = synthesizer.sample(n)
        if isinstance(out, dict):
            out = out[TABLE]
        return out.reset_index(drop=True)

    def _sample_targeted(self, counts: dict[str, int], seed: int) -> pd.DataFrame:
        from sdv.sampling import Condition

        col, _ = self._require_target("sample_targeted")
        synthesizer = self._synthesizer
        if not getattr(self, "_target_modelled", False):  # a constant feature: one value only
            return self._sample(sum(counts.values()), seed).assign(**{col: next(iter(counts))})
        synthesizer.reset_sampling()
        synthesizer._set_random_state(seed)
        parts = []
        for value, k in counts.items():
            try:
                with self._threads():
                    rows = synthesizer.sample_from_conditions(
                        [Condition(column_values={col: value}, num_rows=k)],
                        max_tries_per_batch=self.max_condition_tries,
                    )
            except Exception as error:
                raise GeneratorError(
                    f"{self.name} could not sample {k} rows with {col}={value!r} ({short_reason(error, 140)}); "
                    f"give {value!r} a smaller weight in augment.target.weights, "
                    "or choose another generator"
                ) from error
            if isinstance(rows, dict):
                rows = rows[TABLE]
            if len(rows) < k:
                raise self._unmet(value, len(rows), k, f"{self.max_condition_tries} tries per batch")
            parts.append(rows.iloc[:k])
        return pd.concat(parts, ignore_index=True)


class _GANMixin:
    """CTGAN-style models: batch_size must be a multiple of pac (and even)."""

    def _synthesizer_kwargs(self, data: pd.DataFrame, notes: list[str]) -> dict[str, Any]:
        kwargs = super()._synthesizer_kwargs(data, notes)  # type: ignore[misc]
        n_rows = len(data)
        pac = int(kwargs["pac"])
        step = pac * 2 // math.gcd(pac, 2)  # CTGAN asserts batch_size % 2 == 0 and % pac == 0
        requested = int(kwargs["batch_size"])
        used = max(step, min(requested, n_rows) // step * step)
        if used != requested:
            notes.append(
                f"batch_size lowered from {requested} to {used}: CTGAN needs a multiple of pac={pac} "
                f"(and an even number) no larger than the {n_rows} seed rows"
                if used < requested
                else f"batch_size raised from {requested} to {used}: CTGAN needs a multiple of pac={pac} (and even)"
            )
        kwargs["batch_size"] = used
        return kwargs

    def _loss_info(self) -> dict[str, Any]:
        losses = self._synthesizer.get_loss_values()  # type: ignore[attr-defined]
        curve = [
            {
                "epoch": int(row["Epoch"]),
                "generator_loss": float(row["Generator Loss"]),
                "discriminator_loss": float(row["Discriminator Loss"]),
            }
            for _, row in losses.iterrows()
        ]
        return {
            "epochs": getattr(self, "_epochs_used", self.epochs),  # type: ignore[attr-defined]
            "loss_curve": curve,
            "final_loss": curve[-1]["generator_loss"] if curve else None,
            "final_discriminator_loss": curve[-1]["discriminator_loss"] if curve else None,
        }


class CTGANGenerator(_GANMixin, SDVGenerator):
    """SDV CTGANSynthesizer. `final_loss` is the generator loss of the last epoch.

    `batch_size` is lowered to the largest multiple of `pac` that fits in the seed set (CTGAN
    requires divisibility by pac), so small seed sets work; fit_info records the value used.
    """

    name: ClassVar[str] = "ctgan"
    synthesizer_class: ClassVar[str] = "CTGANSynthesizer"
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = dict(_CTGAN)


class CopulaGANGenerator(_GANMixin, SDVGenerator):
    """SDV CopulaGANSynthesizer (CTGAN on Gaussian-normalised numericals); batch_size as for ctgan."""

    name: ClassVar[str] = "copulagan"
    synthesizer_class: ClassVar[str] = "CopulaGANSynthesizer"
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {**_CTGAN, **_MARGINALS}


class TVAEGenerator(SDVGenerator):
    """SDV TVAESynthesizer. `final_loss` is the mean batch loss of the last epoch."""

    name: ClassVar[str] = "tvae"
    synthesizer_class: ClassVar[str] = "TVAESynthesizer"
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {
        **_NETWORK,
        "compress_dims": (_LAYERS, (128, 128)),
        "decompress_dims": (_LAYERS, (128, 128)),
        "l2scale": (_RATE, 1e-5),
        "loss_factor": (Float(0.0, lo_open=True), 2),
    }

    epochs: int  # a hyperparameter (set from `parameters` by Generator.__init__)

    def _loss_info(self) -> dict[str, Any]:
        losses = self._synthesizer.get_loss_values()
        per_epoch = losses.groupby("Epoch", sort=True)["Loss"].mean() if len(losses) else pd.Series(dtype=float)
        curve = [{"epoch": int(cast(int, epoch)), "loss": float(loss)} for epoch, loss in per_epoch.items()]
        return {
            "epochs": getattr(self, "_epochs_used", self.epochs),
            "loss_curve": curve,
            "final_loss": curve[-1]["loss"] if curve else None,
        }


class GaussianCopulaGenerator(SDVGenerator):
    """SDV GaussianCopulaSynthesizer (no epochs, no loss)."""

    name: ClassVar[str] = "gaussian_copula"
    synthesizer_class: ClassVar[str] = "GaussianCopulaSynthesizer"
    uses_torch: ClassVar[bool] = False
    parameters: ClassVar[dict[str, tuple[Check, Any]]] = {**_MARGINALS, **_COMMON}
