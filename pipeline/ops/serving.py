"""Turning a detector into decisions: thresholds, `alert` / `review` / `pass`, and reasons (no MLflow here).

* **Thresholds** come from the real validation rows: `alert` at the headline alert budget (the
  first of `evaluate.fpr_budgets`), `review` down to `serve.review_budget` (a larger FPR budget:
  the analysts' capacity). A row scoring at or above the alert threshold is `alert`, at or above
  the review threshold `review`, else `pass`.
* **Reasons**: the `serve.reasons` features that pushed the score up most, from XGBoost's
  per-row feature contributions (`pred_contribs`, in log-odds), written `name=value (+0.53)`
  with the user's column names.
* **Input** (`Scorer.predict`): a table of raw feature columns as the user knows them
  (categoricals as strings). Extra columns are ignored; a missing feature column, or a value that
  is not a number in a numerical column, is a `ServingInputError` naming the column (HTTP 400
  behind `mlflow models serve`); a category never seen in training scores like a missing value
  (or as the `other` level when rare levels are grouped).
* **Missing values** (`serve.missing`): a feature that was missing in at most `serve.missing_share` of the
  training rows (`Thresholds.training_missing` holds each feature's share) is *guarded*: XGBoost would route
  its missing value down a default branch it never learnt from, so such a value never decides a row silently.
  `review` (default): the row is `review`, whatever its score, with the reason `missing: <feature>`; `reject`:
  the request fails naming the feature and row; `model`: the model routes it. A feature missing more often in
  training keeps the model's routing under every policy.
* **Output**: `score`, `decision`, `reasons` (`OUTPUT_COLUMNS`) in a frame of their own. Where they sit beside
  user columns (the review queue) they are renamed into the reserved namespace `pipeline.` (`queue_frame`), which
  no user column may use (`pipeline.core.schema.RESERVED_PREFIX`), so any user name, `score` included, is safe.

`Scorer` is the one implementation: the evaluate stage builds the review queue with it and the
MLflow serving model (`pipeline.ops.pyfunc.ServingModel`) wraps it, so what analysts see in
`reports/review_queue.csv` is what the endpoint answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.files import read_json
from pipeline.core.formats import percent
from pipeline.core.schema import RESERVED_PREFIX, Schema, plain_dtype
from pipeline.experiment.metrics import threshold_at_fpr

ALERT, REVIEW, PASS = "alert", "review", "pass"
DECISIONS = (ALERT, REVIEW, PASS)

#: the columns the serving model answers with (`Scorer.predict`), in order: a frame of their own
OUTPUT_COLUMNS = ("score", "decision", "reasons")
#: the same columns where they sit beside user columns (review queue): in the reserved namespace
QUEUE_COLUMNS = {c: RESERVED_PREFIX + c for c in OUTPUT_COLUMNS}

#: `serve.missing` policies for a missing value in a guarded feature (one missing in training at most
#: `serve.missing_share` of the time)
MISSING_REVIEW, MISSING_REJECT, MISSING_MODEL = "review", "reject", "model"
MISSING_POLICIES = (MISSING_REVIEW, MISSING_REJECT, MISSING_MODEL)


#: requests up to this many rows are scored on one XGBoost thread (`Scorer._threads_for`)
ONE_THREAD_ROWS = 20_000


class ServingInputError(DataError):
    """A request the model cannot score (missing feature column, non-numeric value in a numerical column)."""


@dataclass(frozen=True)
class Thresholds:
    alert_budget: float
    review_budget: float
    alert: float
    review: float
    reasons: int = 3
    # missing-input policy (`serve.missing`, `serve.missing_share`) and each feature's share of training rows with a
    # missing value; an artifact written before the policy existed loads with `model` (the old behaviour)
    missing: str = MISSING_MODEL
    missing_share: float = 0.0
    training_missing: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_validation(cls, legit_scores: np.ndarray, alert_budget: float, review_budget: float,
                        reasons: int = 3, missing: str = MISSING_MODEL, missing_share: float = 0.0,
                        training_missing: dict[str, float] | None = None) -> Thresholds:
        """Thresholds at the two FPR budgets on the validation legit rows' scores (and the missing-input policy)."""
        return cls(alert_budget, review_budget, threshold_at_fpr(legit_scores, alert_budget),
                   threshold_at_fpr(legit_scores, review_budget), reasons, missing, float(missing_share),
                   dict(training_missing or {}))

    def guarded(self, features: list[str]) -> list[str]:
        """The features whose missing value the policy handles (missing in at most `missing_share` of training)."""
        if self.missing == MISSING_MODEL:
            return []
        return [f for f in features if f in self.training_missing and self.training_missing[f] <= self.missing_share]

    def decide(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, dtype="float64")
        return np.where(s >= self.alert, ALERT, np.where(s >= self.review, REVIEW, PASS)).astype(object)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Scorer:
    """A trained detector, the prepared schema and the decision thresholds: raw rows in, decisions out."""

    def __init__(self, model: Any, schema: Schema, thresholds: Thresholds):
        self.model, self.schema, self.thresholds = model, schema, thresholds

    @classmethod
    def from_files(cls, model_path: str | Path, schema_path: str | Path, thresholds_path: str | Path) -> Scorer:
        from pipeline.experiment.detector import load_detector

        return cls(load_detector(model_path), Schema.load(schema_path), Thresholds(**read_json(thresholds_path)))

    # -- input ---------------------------------------------------------------------------
    def check_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The feature columns of `rows`, or a ServingInputError naming what is wrong."""
        if not isinstance(rows, pd.DataFrame):
            raise ServingInputError(f"expected a table of feature columns, got {type(rows).__name__}")
        missing = [c for c in self.schema.feature_names if c not in rows.columns]
        if missing:
            raise ServingInputError(f"missing feature column(s) {missing}; send every column of the model's "
                                    f"signature ({len(self.schema.feature_names)} features)")
        dtypes = rows.dtypes
        for f in self.schema.features:
            if f.is_categorical or (rows.columns.is_unique and plain_dtype(dtypes[f.name])):  # numbers already
                continue
            col = rows[f.name]
            parsed = pd.to_numeric(col, errors="coerce")
            bad = parsed.isna() & col.notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise ServingInputError(f"column {f.name!r} must hold numbers; row {i} has {col.iloc[i]!r}")
        return rows[self.schema.feature_names]

    def check_missing(self, features: pd.DataFrame) -> None:
        """Under `serve.missing: reject`, a ServingInputError naming the first guarded feature that is missing."""
        if self.thresholds.missing != MISSING_REJECT:
            return
        for name in self.thresholds.guarded(self.schema.feature_names):
            hit = np.flatnonzero(self._missing(features, name))
            if len(hit):
                more = f" (and {len(hit) - 1} more row(s))" if len(hit) > 1 else ""
                raise ServingInputError(
                    f"feature {name!r} is missing in row {int(hit[0])}{more}; it was missing in "
                    f"{percent(self.thresholds.training_missing[name], 2)} of training rows, so the model never learnt "
                    f"what a missing value means (serve.missing: reject): send a value, or register the model under "
                    f"serve.missing: review")

    def _missing(self, features: pd.DataFrame, name: str) -> np.ndarray:
        """Rows whose value of feature `name` is missing (empty strings count as missing in categoricals)."""
        col = features[name]
        miss = col.isna().to_numpy(dtype=bool)
        if self.schema.feature(name).is_categorical:
            miss |= col.map(lambda v: isinstance(v, str) and v.strip() == "").to_numpy(dtype=bool)
        return miss

    def missing_guarded(self, features: pd.DataFrame) -> list[str]:
        """Per row, the guarded features it lacks, as the reason `missing: a, b` ('' when none)."""
        names = self.thresholds.guarded(self.schema.feature_names)
        out = [""] * len(features)
        if not names:
            return out
        miss = features[names].isna().to_numpy(dtype=bool)  # (rows, guarded features), one pass
        for j, name in enumerate(names):
            if self.schema.feature(name).is_categorical:  # empty strings are missing too
                miss[:, j] = self._missing(features, name)
        for i in np.flatnonzero(miss.any(axis=1)):
            out[i] = "missing: " + ", ".join(n for n, m in zip(names, miss[i]) if m)
        return out

    # -- scoring -------------------------------------------------------------------------
    def _threads_for(self, n_rows: int) -> None:
        """One XGBoost thread for a request of up to `ONE_THREAD_ROWS` rows (starting the thread pool costs more
        than it saves there; scores do not depend on the thread count), all cores for larger tables."""
        n_jobs = 1 if n_rows <= ONE_THREAD_ROWS else None
        if getattr(self.model, "n_jobs", "unset") != n_jobs:
            self.model.set_params(n_jobs=n_jobs)

    def scores(self, rows: pd.DataFrame) -> np.ndarray:
        from pipeline.experiment.detector import predict_scores

        X = self.schema.to_model_frame(self.check_input(rows))
        self._threads_for(len(X))
        return predict_scores(self.model, X)

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """score, decision (alert | review | pass) and reasons for every row, in input order, under the
        missing-input policy (`scores` gives the model's scores alone, whatever is missing). Reasons explain the
        rows that are not `pass` (a passed row needs none: its reasons are empty), so their cost - per-row
        contributions, the costliest part of an answer - is paid for the few rows an analyst will read."""
        from pipeline.experiment.detector import predict_scores

        features = self.check_input(rows)
        self.check_missing(features)
        X = self.schema.to_model_frame(features)
        self._threads_for(len(X))
        scores = predict_scores(self.model, X)
        decisions = self.thresholds.decide(scores)
        reasons = np.full(len(X), "", dtype=object)
        lacking = (np.asarray(self.missing_guarded(features), dtype=object)
                   if self.thresholds.missing == MISSING_REVIEW else np.full(len(X), "", dtype=object))
        explain = np.flatnonzero((decisions != PASS) & (lacking == ""))
        if len(explain):
            reasons[explain] = self.reasons(X.iloc[explain], features.iloc[explain])
        guarded = lacking != ""  # a guarded feature's missing value never decides a row: review, and why
        decisions[guarded], reasons[guarded] = REVIEW, lacking[guarded]
        return pd.DataFrame(dict(zip(OUTPUT_COLUMNS, (scores, decisions, reasons))),
                            index=rows.index).reset_index(drop=True)

    def reasons(self, X: pd.DataFrame, features: pd.DataFrame) -> list[str]:
        """The features that raised each row's score most (positive contributions only), with their values."""
        import xgboost as xgb

        k = self.thresholds.reasons
        if len(X) == 0 or k == 0:
            return [""] * len(X)
        booster = self.model.get_booster()
        best = getattr(self.model, "best_iteration", None)
        contribs = booster.predict(xgb.DMatrix(X, enable_categorical=True), pred_contribs=True,
                                   iteration_range=(0, int(best) + 1) if best is not None else (0, 0))
        contribs = contribs[:, :-1]  # the last column is the bias
        top = np.argsort(-contribs, axis=1, kind="stable")[:, :k]
        value = np.take_along_axis(contribs, top, axis=1)
        names = self.schema.feature_names
        columns = [features[n].to_numpy(dtype=object) for n in names]
        return ["; ".join(f"{names[j]}={_show(columns[j][i])} ({v:+.2f})" for j, v in zip(top[i], value[i]) if v > 0)
                for i in range(len(top))]


def serving_frame(schema: Schema, rows: pd.DataFrame) -> pd.DataFrame:
    """The feature columns of `rows` as a client sends them: user names, numbers as floats, categoricals as
    strings (missing ones as empty strings, which JSON carries and which score like a missing value)."""
    out = schema.conform(rows).reset_index(drop=True)
    for f in schema.features:
        out[f.name] = (out[f.name].map(lambda v: "" if v is None else v).astype(object) if f.is_categorical
                       else out[f.name].astype("float64"))
    return out


def queue_frame(user: pd.DataFrame, decided: pd.DataFrame) -> pd.DataFrame:
    """User columns beside the scorer's output (`Scorer.predict`), the output renamed into the reserved namespace
    (`QUEUE_COLUMNS`: `pipeline.score`, ...), so no user column name can meet a computed one."""
    out = decided.rename(columns=QUEUE_COLUMNS).reset_index(drop=True)
    return pd.concat([user.reset_index(drop=True), out], axis=1)


def training_missing(split: str | Path, schema: Schema) -> dict[str, float]:
    """Each feature's share of rows with a missing value in a prepared split (a Parquet file or folder of parts),
    read one column at a time."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    split = Path(split)
    if not split.exists():
        raise DataError(f"{split} not found; run the prepare stage (dvc repro prepare)")
    files = sorted(str(p) for p in split.glob("part-*.parquet")) if split.is_dir() else str(split)
    data = ds.dataset(files, format="parquet")
    out = {}
    for f in schema.features:
        col = data.to_table(columns=[f.name]).column(0)
        n = len(col)
        nulls = (pc.sum(pc.is_null(col, nan_is_null=True)).as_py() or 0) if n else 0
        out[f.name] = float(nulls) / n if n else 0.0
    return out


def missing_markdown(thresholds: dict[str, Any]) -> str:
    """The summary's lines on missing values at serving: the policy and each feature's training missing share."""
    shares = thresholds.get("training_missing") or {}
    policy, limit = thresholds.get("missing", MISSING_MODEL), float(thresholds.get("missing_share", 0.0))
    if not shares:
        return ""
    guarded = [f for f, v in shares.items() if v <= limit] if policy != MISSING_MODEL else []
    what = {MISSING_REVIEW: "sends the row to `review` with the reason `missing: <feature>`",
            MISSING_REJECT: "rejects the request, naming the feature and row",
            MISSING_MODEL: "is routed by the model (XGBoost's default branch)"}[policy]
    lines = [f"Missing values at serving (`serve.missing: {policy}`): a missing value in a feature missing in at most "
             f"{percent(limit, 2)} of training rows {what}" + ("" if policy == MISSING_MODEL else
                                                                "; in other features the model routes it") + ".", "",
             "| feature | missing in training | missing value at serving |", "|---|---:|---|"]
    for name, share in shares.items():
        lines.append(f"| {name} | {percent(share, 2)} | {policy if name in guarded else 'model'} |")
    return "\n".join(lines) + "\n"


def _show(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "missing"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def realised_fpr(thresholds: Thresholds, valid_legit: np.ndarray, test_legit: np.ndarray) -> dict[str, float]:
    """Share of legitimate rows at or above each threshold: on validation (<= the budget by construction) and
    on test (what the budget really buys on new rows: the calibration check)."""
    out = {}
    for name, t in (("alert", thresholds.alert), ("review", thresholds.review)):
        out[f"{name}_fpr_valid"] = float(np.mean(np.asarray(valid_legit) >= t)) if len(valid_legit) else float("nan")
        out[f"{name}_fpr_test"] = float(np.mean(np.asarray(test_legit) >= t)) if len(test_legit) else float("nan")
    return out


def decisions_markdown(entry: dict[str, Any]) -> str:
    """The summary's section on what the registered detector would decide on the test rows."""
    t, c = entry["thresholds"], entry["test_decisions"]
    total = sum(v["rows"] for v in c.values())
    fit = f"fit {entry['fit_seed']}, " if entry.get("fit_seed") is not None else ""
    lines = [f"Decisions of the detector `publish` registers ({entry['config']}, {fit}seed {entry['seed']}) on the "
             f"{total} test rows:", "",
             "| decision | threshold (score >=) | FPR budget | FPR on validation | FPR on test | rows | frauds |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, key in ((ALERT, "alert"), (REVIEW, "review")):
        lines.append(f"| {name} | {t[key]:.4f} | {percent(t[key + '_budget'], 2)} | "
                     f"{percent(entry[key + '_fpr_valid'], 2)} | "
                     f"{percent(entry[key + '_fpr_test'], 2)} | {c[name]['rows']} | {c[name]['frauds']} |")
    lines.append(f"| {PASS} | | | | | {c[PASS]['rows']} | {c[PASS]['frauds']} |")
    lines += ["", "Thresholds are set on the validation legitimate rows; the test FPR shows what each budget really "
              "buys on new rows (review FPR counts the alert rows too). The review band's rows, with scores, "
              "reasons and true labels, are in `reports/review_queue.csv`."]
    return "\n".join(lines) + "\n"


def decision_counts(decisions: np.ndarray | pd.Series, labels: np.ndarray | None = None) -> dict[str, dict[str, int]]:
    """{decision: {"rows": n, "frauds": k}} (frauds only when labels are given)."""
    d = np.asarray(decisions, dtype=object)
    out = {}
    for name in DECISIONS:
        hit = d == name
        out[name] = {"rows": int(hit.sum())}
        if labels is not None:
            out[name]["frauds"] = int(np.asarray(labels)[hit].sum())
    return out
