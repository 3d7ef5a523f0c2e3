"""params.yaml: every default and every check of the pipeline's parameters, in one place.

`SPEC` holds each key with its check and default; `load_params` reads params.yaml, applies
dotted-key overrides, and validates it, collecting every problem into one `ConfigError` line
that names each key (``params.yaml: split.train: must be in (0.0, 1.0), got 1.5; detector.seeds:
...``). Core functions receive validated params and do not check them again.

Generator hyperparameters are declared, with their checks and defaults, by each generator class
(`pipeline.generators`); the `generators` section is validated by building every configured
generator once.

The checks of values `pipeline.core.checks` does not cover (dates, segments, tactics, generators...) are in
`pipeline.config.param_checks`; recording which keys a stage reads is `pipeline.config.recording`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.config.param_checks import (
    Date,
    Generators,
    MemorySize,
    NFrauds,
    Scheduler,
    SegmentSpec,
    Tactic,
    Weights,
)
from pipeline.core.checks import (
    REQUIRED,
    Bool,
    Char,
    Encoding,
    Float,
    Int,
    ListOf,
    Optional,
    Section,
    Str,
    validate_all,
)
from pipeline.core.errors import ConfigError
from pipeline.core.paths import PARAMS_FILE
from pipeline.data.simulate import MAX_CUSTOMERS

_SHARE = Float(0.0, 1.0, hi_open=True)
_FRACTION = Float(0.0, 1.0, lo_open=True, hi_open=True)

SPEC = Section(
    {
        "data": (
            Section(
                {
                    "source": (Str(("simulated", "csv", "parquet")), "simulated"),
                    "path": (Optional(Str()), None),
                    "label": (Str(), "is_fraud"),
                    "time_column": (Optional(Str()), None),
                    "id_columns": (ListOf(Str(), unique=True), []),
                    "drop_columns": (ListOf(Str(), unique=True), []),
                    "meta_columns": (ListOf(Str(), unique=True), []),
                    # the input contract (pipeline/data/contract.py; docs/data.md)
                    "categorical_columns": (ListOf(Str(), unique=True), []),
                    "non_finite": (Str(("missing", "reject")), "missing"),
                    "coerce_numeric": (Bool(), False),
                    "max_categories": (Optional(Int(2)), None),
                    # dd/mm/yyyy (true) or mm/dd/yyyy (false) time columns; null = decided from the column (a first field > 12)
                    "dayfirst": (Optional(Bool()), None),
                    # rows per Parquet part of each split (a folder of parts, read part by part by detector.engine: dask);
                    # null = one file per split
                    "partition_rows": (Optional(Int(1000)), None),
                    # prepare out of core on dask.dataframe (pipeline/data/partitioned.py) when data.path is a folder or glob of
                    # parts, or one file larger than this
                    "out_of_core_above": (MemorySize(), "1GiB"),
                    # oversamplers that need neighbours (smote, borderline_smote, adasyn) see at most this many legitimate
                    # training rows: a seeded sample when the split holds more
                    "legit_sample_rows": (Int(1000), 200000),
                    # share of legitimate TRAINING rows the detectors train on (seeded sample, weight 1/fraction); 1.0 = all.
                    # Validation and test rows are never sampled.
                    "legit_fraction": (Float(0.0, 1.0, lo_open=True), 1.0),
                    "csv": (
                        Section(
                            {
                                "sep": (Optional(Char()), None),
                                "encoding": (Optional(Encoding()), None),
                                # number formats (pipeline/data/numbers.py): null = decided per column from its values
                                "decimal": (Optional(Char((".", ","))), None),
                                "thousands": (Optional(Char((",", ".", " ", "'"))), None),
                            }
                        ),
                        {},
                    ),
                    "simulate": (
                        Section(
                            {
                                "n_customers": (Int(1, MAX_CUSTOMERS), 1000),
                                "n_terminals": (Int(1), 2000),
                                "n_days": (Int(1), 90),
                                "start_date": (Date(), "2025-01-01"),
                                "day_offset": (Int(0), 60),
                                "radius": (Float(0.0, lo_open=True), 5.0),
                                "seed": (Int(0), 7),
                            }
                        ),
                        {},
                    ),
                    "features": (
                        Section(
                            {
                                "windows": (ListOf(Int(1), min_len=1, unique=True), [1, 7, 30]),
                                "delay_days": (Int(0), 7),
                            }
                        ),
                        {},
                    ),
                }
            ),
            {},
        ),
        "split": (
            Section(
                {
                    "train": (_FRACTION, 0.6),
                    "gap": (Float(0.0, 1.0, hi_open=True), 0.05),
                    "valid": (_FRACTION, 0.15),
                    "test": (_FRACTION, 0.2),
                    "min_frauds": (Int(1), 20),
                    "seed": (Int(0), 0),
                }
            ),
            {},
        ),
        "generators": (Generators(), REQUIRED),
        "augment": (
            Section(
                {
                    # the real-only baseline (share 0) is always trained; 0.0 in this list changes nothing
                    "shares": (ListOf(_SHARE, min_len=1, unique=True), [0.0, 0.25, 0.5, 0.75]),
                    # each generator is fitted once per fit seed (fit@G-F, cached apart); the bootstrap then resamples the fits,
                    # so a verdict covers generator randomness. More seeds = more fits: [0, 1, 2] triples fit and sample time.
                    "fit_seeds": (ListOf(Int(0, 2**31 - 1), min_len=1, unique=True), [0]),
                    "sample_seed": (Int(0), 0),
                    # targeted generation: synthetic rows drawn per value of a categorical column (meta or feature), topping
                    # up under-represented fraud segments (balance) or in set proportions (weights); null = off
                    "target": (
                        Optional(
                            Section(
                                {
                                    "column": (Str(), REQUIRED),
                                    "policy": (Str(("balance", "weights")), "balance"),
                                    "weights": (Optional(Weights()), None),
                                }
                            )
                        ),
                        None,
                    ),
                }
            ),
            {},
        ),
        "quality": (
            Section(
                {
                    # null disables a check
                    "min_quality_score": (Optional(Float(0.0, 1.0)), 0.6),
                    "max_exact_copy_share": (Optional(Float(0.0, 1.0)), 0.05),
                    "min_dcr_ratio": (Optional(Float(0.0)), 0.5),
                    "max_detection_auc": (
                        Optional(Float(0.0, 1.0)),
                        None,
                    ),  # absolute; off: on drifting data it flags all
                    # calibrated against real held-out frauds measured the same way (pipeline/quality/gate.py)
                    "max_detection_auc_excess": (Optional(Float(0.0, 1.0)), 0.1),
                    "max_quality_score_drop": (Optional(Float(0.0, 1.0)), 0.1),
                    "exclude_failed": (Bool(), False),
                }
            ),
            {},
        ),
        "detector": (
            Section(
                {
                    "seeds": (ListOf(Int(0, 2**32 - 1), min_len=1, unique=True), [0, 1, 2]),
                    "n_estimators": (Int(1), 400),
                    "max_depth": (Int(1, 20), 6),
                    "learning_rate": (Float(0.0, 1.0, lo_open=True), 0.1),
                    "subsample": (Float(0.0, 1.0, lo_open=True), 0.8),
                    "colsample_bytree": (Float(0.0, 1.0, lo_open=True), 0.8),
                    "min_child_weight": (Float(0.0), 1.0),
                    "early_stopping_rounds": (Int(1), 40),
                    "n_jobs": (Int(1), 2),  # XGBoost threads per detector in this process (1 inside a Dask task)
                    # xgboost: each detector fits in one process on pandas rows (units spread over compute.scheduler);
                    # dask: each detector fits with xgboost.dask over the cluster's workers on the Parquet parts
                    "engine": (Str(("xgboost", "dask")), "xgboost"),
                }
            ),
            {},
        ),
        "compute": (
            Section(
                {
                    # where units of work run (pipeline/core/compute.py): local | sequential | tcp://host:port
                    "scheduler": (Scheduler(), "local"),
                    "workers": (Optional(Int(1, 1024)), None),  # local cluster's workers; null = one per core
                    "worker_memory": (
                        Optional(MemorySize()),
                        None,
                    ),  # local cluster's memory limit per worker; null = Dask's
                    "min_tasks": (Int(1), 4),  # a local cluster starts only for stages with at least this many units
                    "connect_timeout_s": (Float(0.1, 600.0), 10.0),
                }
            ),
            {},
        ),
        "evaluate": (
            Section(
                {
                    "fpr_budgets": (ListOf(_FRACTION, min_len=1, unique=True), [0.005, 0.001, 0.01]),
                    "precision_floors": (ListOf(Float(0.0, 1.0, lo_open=True), unique=True), [0.5, 0.8]),
                    "top_k": (ListOf(Int(1), unique=True), [100, 500]),
                    "n_boot": (Int(100), 1000),
                    "ci": (Float(0.5, 1.0, hi_open=True), 0.95),
                    "seed": (Int(0), 0),
                    # columns whose values split the test frauds into segments, each with its own verdict
                    "segments": (ListOf(SegmentSpec()), []),
                    "min_segment_frauds": (Int(1), 20),  # a segment with fewer test frauds is "too few to judge"
                    # the smallest recall difference worth having (absolute recall points): inside +-min_effect at the 90% CI
                    # (two one-sided tests) a configuration is `equivalent`, a CI reaching past it is `inconclusive`
                    "min_effect": (Float(0.0, 1.0, lo_open=True, hi_open=True), 0.03),
                    # the relative recall gain the summary asks about: would a gain this size have been detected here, and is it
                    # there? (0.23: the published case users cite, "caught 23% more fraud")
                    "reference_lift": (Float(0.0, 10.0, lo_open=True), 0.23),
                }
            ),
            {},
        ),
        "scarcity": (
            Section(
                {
                    # the same question with the seed set cut to n real frauds: one cell per number of frauds N, draw R and
                    # generator G, cached apart (data/cache/scarcity) so widening a list reuses the other cells
                    "n_frauds": (ListOf(NFrauds(), min_len=1, unique=True), [25, 50, 100, 200, "all"]),
                    "repeats": (
                        ListOf(Int(0, 2**31 - 1), min_len=1, unique=True),
                        [0, 1, 2],
                    ),  # draw seeds (= fit seeds)
                    "generators": (ListOf(Str(), min_len=1, unique=True), ["gaussian_copula", "smote"]),
                    "shares": (ListOf(Float(0.0, 1.0, lo_open=True, hi_open=True), min_len=1, unique=True), [0.5]),
                    "seeds": (ListOf(Int(0, 2**32 - 1), min_len=1, unique=True), [0]),  # detector seeds per cell
                }
            ),
            {},
        ),
        "unseen": (
            Section(
                {
                    # leave-one-variant-out (experiment/unseen.py): a column naming fraud kinds (a meta column or a feature; or
                    # {column, bins} for a numeric one); each of its values among the test frauds is held out of training and
                    # validation in turn; null = off
                    "column": (Optional(SegmentSpec()), None),
                    "generators": (
                        ListOf(Str(), min_len=1, unique=True),
                        ["gaussian_copula", "smote"],
                    ),  # names under generators:
                    "shares": (ListOf(Float(0.0, 1.0, lo_open=True, hi_open=True), min_len=1, unique=True), [0.5]),
                    "fit_seeds": (ListOf(Int(0, 2**31 - 1), min_len=1, unique=True), [0]),  # generator fits per cell
                    "seeds": (ListOf(Int(0, 2**32 - 1), min_len=1, unique=True), [0, 1]),  # detector seeds per cell
                }
            ),
            {},
        ),
        "redteam": (
            Section(
                {
                    # attacker tactics applied to the TEST frauds only (experiment/redteam.py): recall under attack per config
                    # and the retrain guardrail retrain.max_redteam_drop; [] = off (nothing is guessed for a user's table)
                    "tactics": (ListOf(Tactic()), []),
                    "combinations": (Bool(), False),  # also every pair of tactics, applied in order ("a+b")
                }
            ),
            {},
        ),
        "serve": (
            Section(
                {
                    # a second, larger alert budget: rows between the alert threshold and this one go to human review
                    "review_budget": (_FRACTION, 0.02),
                    "reasons": (Int(0, 10), 3),  # features named as reasons per scored row
                    # a missing value in a feature missing in at most `missing_share` of training rows: `review` (the row goes to
                    # review, reason `missing: <feature>`), `reject` (the request fails naming feature and row) or `model` (XGBoost
                    # routes it); the choices are pipeline.ops.serving.MISSING_POLICIES
                    "missing": (Str(("review", "reject", "model")), "review"),
                    "missing_share": (Float(0.0, 1.0), 0.01),
                }
            ),
            {},
        ),
        "tracking": (
            Section(
                {
                    "experiment": (Str(), "fraud-augmentation"),
                    "model_name": (Str(), "fraud-detector"),
                    "retries": (Int(0, 20), 3),
                    "retry_wait_s": (Float(0.0, 60.0), 2.0),
                }
            ),
            {},
        ),
        "retrain": (
            Section(
                {
                    "margin": (Float(0.0, 1.0), 0.01),
                    "max_segment_drop": (Float(0.0, 1.0), 0.05),  # no fraud segment may lose more recall than this
                    "allow_flagged_pool": (Bool(), False),
                    # no red-team tactic may cost the challenger more recall than the champion keeps under it, beyond this
                    "max_redteam_drop": (
                        Float(0.0, 1.0),
                        0.05,
                    ),  # true: promote a challenger whose synthetic pool the gate flagged
                    "advance_days": (Int(0), 30),
                    "audit_log": (Str(), "reports/retrain/audit.jsonl"),
                    "lock_file": (Str(), "reports/retrain/retrain.lock"),
                }
            ),
            {},
        ),
    }
)


def defaults() -> dict[str, Any]:
    """Every section with its defaults (generators empty): for tests and benchmarks."""
    return {**SPEC.defaults(), "generators": {}}


def validate(raw: Any) -> dict[str, Any]:
    """Validate a raw params mapping; return a complete dict with defaults filled in."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{PARAMS_FILE}: must be a mapping of sections (data, split, generators, ...)")
    if isinstance(raw.get("augment"), dict) and "fit_seed" in raw["augment"]:
        raise ConfigError(
            f"{PARAMS_FILE}: augment.fit_seed is now augment.fit_seeds, a list (each generator is fitted "
            f"once per seed): write fit_seeds: [{raw['augment']['fit_seed']}]"
        )
    params = validate_all(SPEC, raw, PARAMS_FILE)
    for section in ("scarcity", "unseen"):
        if "generators" not in (raw.get(section) or {}):
            # not set: the default generators that are configured, else the first configured one
            sc = params[section]
            sc["generators"] = [g for g in sc["generators"] if g in params["generators"]] or list(params["generators"])[
                :1
            ]
    problems = _cross_checks(params)
    if problems:
        raise ConfigError(f"{PARAMS_FILE}: " + "; ".join(f"{k}: {m}" for k, m in problems))
    return params


def _cross_checks(p: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    s = p["split"]
    total = s["train"] + s["gap"] + s["valid"] + s["test"]
    if abs(total - 1.0) > 1e-9:
        problems.append(
            (
                "split",
                f"train + gap + valid + test must add up to 1, got {total:.3f}"
                + (
                    f" (the newest {1 - total:.3f} of the rows would be used nowhere; enlarge "
                    f"split.test to {s['test'] + 1 - total:.3f})"
                    if total < 1
                    else ""
                ),
            )
        )
    d = p["data"]
    if d["source"] in ("csv", "parquet") and not d["path"]:
        problems.append(
            ("data.path", f"is required when data.source is {d['source']}; set it to your {d['source']} file")
        )
    if p["serve"]["review_budget"] <= p["evaluate"]["fpr_budgets"][0]:
        problems.append(
            (
                "serve.review_budget",
                f"must be larger than the alert budget (evaluate.fpr_budgets[0] = "
                f"{p['evaluate']['fpr_budgets'][0]}), got "
                f"{p['serve']['review_budget']}",
            )
        )
    target = p["augment"]["target"]
    if target and (target["policy"] == "weights") != (target["weights"] is not None):
        problems.append(
            ("augment.target", "policy: weights needs weights: {value: weight, ...}; policy: balance takes no weights")
        )
    for section in ("scarcity", "unseen"):
        missing = [g for g in p[section]["generators"] if g not in p["generators"]]
        if missing:
            problems.append(
                (
                    f"{section}.generators",
                    f"names {', '.join(map(repr, missing))}, not configured under "
                    f"generators (configured: {', '.join(p['generators'])})",
                )
            )
    if p["detector"]["engine"] == "dask" and p["compute"]["scheduler"] == "sequential":
        problems.append(
            (
                "detector.engine",
                "dask trains on a Dask cluster; set compute.scheduler: local (or a "
                "scheduler address), or detector.engine: xgboost",
            )
        )
    names = [t["name"] for t in p["redteam"]["tactics"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(
            ("redteam.tactics", f"names {', '.join(map(repr, twice))} more than once; give each tactic its own name")
        )
    if d["csv"]["sep"] is not None and d["csv"]["sep"] == d["csv"]["decimal"]:
        problems.append(("data.csv.decimal", f"must differ from data.csv.sep (both are {d['csv']['sep']!r})"))
    if d["csv"]["thousands"] is not None and d["csv"]["thousands"] == d["csv"]["decimal"]:
        problems.append(("data.csv.thousands", f"must differ from data.csv.decimal (both are {d['csv']['decimal']!r})"))
    return problems


def load_params(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read and validate params.yaml (default: ./params.yaml), applying dotted-key overrides."""
    path = Path(path) if path is not None else Path.cwd() / PARAMS_FILE
    if not path.exists():
        raise ConfigError(f"{path} not found; run from the project root or pass --params")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}; fix the syntax") from None
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value)
    return validate(raw)


def set_dotted(d: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value
