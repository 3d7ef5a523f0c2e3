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
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.files import read_json
from pipeline.core.formats import percent
from pipeline.core.schema import RESERVED_PREFIX, Schema, plain_dtype
from pipeline.experiment.metrics import LabelledScores, ScoreSummary

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
    def from_validation(
        cls,
        legit_scores: np.ndarray | LabelledScores | ScoreSummary,
        alert_budget: float,
        review_budget: float,
        reasons: int = 3,
        missing: str = MISSING_MODEL,
        missing_share: float = 0.0,
        training_missing: dict[str, float] | None = None,
    ) -> Thresholds:
        """Thresholds at the two FPR budgets on the validation legit rows' scores (and the missing-input policy):
        an array of legit scores, or a validation split's scores (`metrics.as_scores`)."""
        valid = _legit(legit_scores)
        return cls(
            alert_budget,
            review_budget,
            valid.threshold(alert_budget),
            valid.threshold(review_budget),
            reasons,
            missing,
            float(missing_share),
            dict(training_missing or {}),
        )

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
    """A trained detector, the prepared schema and the decision thresholds: raw rows in, decisions out.

    A request goes straight from its columns into one float matrix in the model's feature order (numbers as
    float64, integer features rounded as `Schema.conform` rounds them, categoricals as their index in the
    schema's fixed categories, missing or never seen as NaN: what `Schema.to_model_frame` gives XGBoost), scored
    by the booster's `inplace_predict`; no per-request DataFrame is built. Everything that depends only on the
    schema, the thresholds and the model (positions, category codes, guarded features, the booster and its
    iteration range) is worked out once, here. Contributions (reasons) are computed only for rows that are
    not `pass`."""

    def __init__(self, model: Any, schema: Schema, thresholds: Thresholds):
        self.model, self.schema, self.thresholds = model, schema, thresholds
        features = schema.features
        self._names = [f.name for f in features]
        self._numerical = [f.name for f in features if not f.is_categorical]
        self._numerical_at = np.array([i for i, f in enumerate(features) if not f.is_categorical], dtype=np.intp)
        self._integer_at = np.array([i for i, f in enumerate(features) if f.is_integer], dtype=np.intp)
        self._categorical = [
            (
                i,
                f,
                {c: float(k) for k, c in enumerate(f.categories or [])},
                None if f.other is None else set(f.categories or []),
            )
            for i, f in enumerate(features)
            if f.is_categorical
        ]
        self._guarded = thresholds.guarded(self._names)
        self._guarded_at = np.array([self._names.index(n) for n in self._guarded], dtype=np.intp)
        self._booster: Any = None
        self._iterations: tuple[int, int] = (0, 0)

    @classmethod
    def from_files(cls, model_path: str | Path, schema_path: str | Path, thresholds_path: str | Path) -> Scorer:
        from pipeline.experiment.detector import load_detector

        return cls(load_detector(model_path), Schema.load(schema_path), Thresholds(**read_json(thresholds_path)))

    # -- input ---------------------------------------------------------------------------
    def check_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The feature columns of `rows`, or a ServingInputError naming what is wrong."""
        self._check_columns(rows)
        dtypes = rows.dtypes
        for f in self.schema.features:
            if f.is_categorical or (rows.columns.is_unique and _plain(dtypes[f.name])):  # numbers already
                continue
            self._parsed(rows[f.name], f.name)
        return rows[self._names]

    def _check_columns(self, rows: pd.DataFrame) -> None:
        if not isinstance(rows, pd.DataFrame):
            raise ServingInputError(f"expected a table of feature columns, got {type(rows).__name__}")
        columns = rows.columns
        missing = [c for c in self._names if c not in columns]
        if missing:
            raise ServingInputError(
                f"missing feature column(s) {missing}; send every column of the model's "
                f"signature ({len(self._names)} features)"
            )

    @staticmethod
    def _parsed(col: pd.Series, name: str) -> np.ndarray:
        """A numerical column that is not held as numbers, parsed (float64), or a ServingInputError naming the row."""
        parsed = pd.to_numeric(col, errors="coerce")
        bad = parsed.isna() & col.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ServingInputError(f"column {name!r} must hold numbers; row {i} has {col.iloc[i]!r}")
        return parsed.to_numpy(dtype="float64", na_value=np.nan)

    def _matrix(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The model's input matrix of `rows` (float64, features in schema order: see the class docstring) and, per
        row and feature, whether the value is missing (NaN or None; an empty string in a categorical too; a category
        never seen in training is NaN in the matrix but not missing)."""
        self._check_columns(rows)
        n = len(rows)
        X = np.empty((n, len(self._names)), dtype="float64")
        missing = np.zeros((n, len(self._names)), dtype=bool)
        if len(self._numerical):
            unique, dtypes = rows.columns.is_unique, rows.dtypes
            if unique and all(_plain(d) for d in dtypes):  # a table of numbers (a served request): one conversion
                at = rows.columns.get_indexer(pd.Index(self._numerical))
                values = rows.to_numpy(dtype="float64", na_value=np.nan)[:, at]
            elif n:
                values = np.column_stack(
                    [
                        rows[name].to_numpy(dtype="float64", na_value=np.nan)
                        if unique and _plain(dtypes[name])
                        else self._parsed(rows[name], name)
                        for name in self._numerical
                    ]
                )
            else:
                values = np.empty((0, len(self._numerical)))
            X[:, self._numerical_at] = values
            if len(self._integer_at):
                X[:, self._integer_at] = np.rint(X[:, self._integer_at])
            missing[:, self._numerical_at] = np.isnan(values)
        for i, f, codes, kept in self._categorical:
            X[:, i], missing[:, i] = _category_codes(rows[f.name], codes, kept, f.other)
        return X, missing

    def check_missing(self, features: pd.DataFrame) -> None:
        """Under `serve.missing: reject`, a ServingInputError naming the first guarded feature that is missing."""
        if self.thresholds.missing == MISSING_REJECT:
            self._reject_missing(self._matrix(features)[1])

    def _reject_missing(self, missing: np.ndarray) -> None:
        for name, j in zip(self._guarded, self._guarded_at):
            hit = np.flatnonzero(missing[:, j])
            if len(hit):
                more = f" (and {len(hit) - 1} more row(s))" if len(hit) > 1 else ""
                raise ServingInputError(
                    f"feature {name!r} is missing in row {int(hit[0])}{more}; it was missing in "
                    f"{percent(self.thresholds.training_missing[name], 2)} of training rows, so the model never learnt "
                    f"what a missing value means (serve.missing: reject): send a value, or register the model under "
                    f"serve.missing: review"
                )

    def missing_guarded(self, features: pd.DataFrame) -> list[str]:
        """Per row, the guarded features it lacks, as the reason `missing: a, b` ('' when none)."""
        return list(self._lacking(self._matrix(features)[1]))

    def _lacking(self, missing: np.ndarray) -> np.ndarray:
        out = np.full(len(missing), "", dtype=object)
        if not self._guarded:
            return out
        miss = missing[:, self._guarded_at]
        for i in np.flatnonzero(miss.any(axis=1)):
            out[i] = "missing: " + ", ".join(n for n, m in zip(self._guarded, miss[i]) if m)
        return out

    # -- scoring -------------------------------------------------------------------------
    def _threads_for(self, n_rows: int) -> None:
        """One XGBoost thread for a request of up to `ONE_THREAD_ROWS` rows (starting the thread pool costs more
        than it saves there; scores do not depend on the thread count), all cores for larger tables. Set on the
        booster itself, each call (the model may be shared): `set_params(n_jobs=None)` would leave it at one."""
        if self._booster is None:
            self._booster = self.model.get_booster()
            best = getattr(self.model, "best_iteration", None)  # the early-stopped trees, as predict_proba uses
            self._iterations = (0, int(best) + 1) if best is not None else (0, 0)
        self._booster.set_param("nthread", 1 if n_rows <= ONE_THREAD_ROWS else 0)  # 0: every core

    def _scores(self, X: np.ndarray) -> np.ndarray:
        """The fraud score of each row of the model matrix: `predict_proba(...)[:, 1]` of the model frame."""
        self._threads_for(len(X))
        if len(X) == 0:
            return np.empty(0, dtype="float64")
        return self._booster.inplace_predict(
            X, iteration_range=self._iterations, missing=np.nan, validate_features=False
        ).astype("float64")

    def scores(self, rows: pd.DataFrame) -> np.ndarray:
        return self._scores(self._matrix(rows)[0])

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """score, decision (alert | review | pass) and reasons for every row, in input order, under the
        missing-input policy (`scores` gives the model's scores alone, whatever is missing). Reasons explain the
        rows that are not `pass` (a passed row needs none: its reasons are empty), so their cost - per-row
        contributions, the costliest part of an answer - is paid for the few rows an analyst will read."""
        X, missing = self._matrix(rows)
        if self.thresholds.missing == MISSING_REJECT:
            self._reject_missing(missing)
        scores = self._scores(X)
        decisions = self.thresholds.decide(scores)
        reasons = np.full(len(X), "", dtype=object)
        if self.thresholds.missing == MISSING_REVIEW:
            lacking = self._lacking(missing)
            guarded = lacking != ""  # a guarded feature's missing value never decides a row: review, and why
        else:
            lacking, guarded = reasons, np.zeros(len(X), dtype=bool)
        explain = np.flatnonzero((decisions != PASS) & ~guarded)
        if len(explain):
            reasons[explain] = self._reasons(X[explain], rows, explain)
        if guarded.any():
            decisions[guarded], reasons[guarded] = REVIEW, lacking[guarded]
        return pd.DataFrame(dict(zip(OUTPUT_COLUMNS, (scores, decisions, reasons))))

    def reasons(self, X: pd.DataFrame | np.ndarray, features: pd.DataFrame) -> list[str]:
        """The features that raised each row's score most (positive contributions only), with their values: `X` the
        model frame (`Schema.to_model_frame`) or matrix (`_matrix`) of `features`."""
        if not isinstance(X, np.ndarray):
            X = self._matrix(features)[0]
        return self._reasons(X, features, np.arange(len(X)))

    def _reasons(self, X: np.ndarray, rows: pd.DataFrame, at: np.ndarray) -> list[str]:
        """Reasons for the matrix rows `X`, which are rows `at` of the request `rows` (whose values they show)."""
        import xgboost as xgb

        k = self.thresholds.reasons
        if len(X) == 0 or k == 0:
            return [""] * len(X)
        self._threads_for(len(X))
        b = self._booster
        contribs = b.predict(
            xgb.DMatrix(
                X,
                missing=np.nan,
                feature_names=b.feature_names,
                feature_types=b.feature_types,
                nthread=1 if len(X) <= ONE_THREAD_ROWS else -1,
            ),
            pred_contribs=True,
            iteration_range=self._iterations,
        )
        contribs = contribs[:, :-1]  # the last column is the bias
        top = np.argsort(-contribs, axis=1, kind="stable")[:, :k]
        value = np.take_along_axis(contribs, top, axis=1)
        names = self._names
        columns = {j: rows[names[j]].to_numpy(dtype=object)[at] for j in np.unique(top)}
        return [
            "; ".join(f"{names[j]}={_show(columns[j][i])} ({v:+.2f})" for j, v in zip(top[i], value[i]) if v > 0)
            for i in range(len(top))
        ]


def serving_frame(schema: Schema, rows: pd.DataFrame) -> pd.DataFrame:
    """The feature columns of `rows` as a client sends them: user names, numbers as floats, categoricals as
    strings (missing ones as empty strings, which JSON carries and which score like a missing value)."""
    out = schema.conform(rows).reset_index(drop=True)
    for f in schema.features:
        out[f.name] = (
            out[f.name].map(lambda v: "" if v is None else v).astype(object)
            if f.is_categorical
            else out[f.name].astype("float64")
        )
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
    what = {
        MISSING_REVIEW: "sends the row to `review` with the reason `missing: <feature>`",
        MISSING_REJECT: "rejects the request, naming the feature and row",
        MISSING_MODEL: "is routed by the model (XGBoost's default branch)",
    }[policy]
    lines = [
        f"Missing values at serving (`serve.missing: {policy}`): a missing value in a feature missing in at most "
        f"{percent(limit, 2)} of training rows {what}"
        + ("" if policy == MISSING_MODEL else "; in other features the model routes it")
        + ".",
        "",
        "| feature | missing in training | missing value at serving |",
        "|---|---:|---|",
    ]
    for name, share in shares.items():
        lines.append(f"| {name} | {percent(share, 2)} | {policy if name in guarded else 'model'} |")
    return "\n".join(lines) + "\n"


def _category_codes(
    col: pd.Series, codes: dict[str, float], kept: set[str] | None, other: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """A categorical column's model codes (its index in the schema's categories; NaN when missing or never seen in
    training) and, per row, whether the value is missing: a null, or an empty / blank string (a blank value of
    another type, which cannot occur in JSON, is unseen, not missing). With rare levels grouped (`kept`, the levels
    kept by name), a level not kept is `other`. Whole-column operations: no Python loop over the rows."""
    n = len(col)
    code = np.full(n, np.nan)
    missing = col.isna().to_numpy(dtype=bool, na_value=True)
    present = np.flatnonzero(~missing)
    if not len(present):
        return code, missing
    values = col.to_numpy(dtype=object)[present]
    text = pd.Series(values, dtype=object).map(str)  # str(v): what the codes are keyed by
    blank = (text.str.strip() == "").to_numpy(dtype=bool)
    if blank.any():
        is_str = np.fromiter((isinstance(v, str) for v in values[blank]), dtype=bool, count=int(blank.sum()))
        missing[present[blank]] = is_str
    if kept is not None:
        text = text.where(text.isin(kept), str(other))  # other is set whenever kept is
    mapped = text.map(codes).to_numpy(dtype="float64", na_value=np.nan)
    mapped[blank] = np.nan
    code[present] = mapped
    return code, missing


@lru_cache(maxsize=64)
def _plain(dtype: Any) -> bool:
    """`plain_dtype`, remembered per dtype (a request asks it of every column)."""
    return plain_dtype(dtype)


def _show(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "missing"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def _legit(scores: np.ndarray | LabelledScores | ScoreSummary) -> LabelledScores | ScoreSummary:
    """A split's scores as the metrics read them; an array: legit rows' scores."""
    if isinstance(scores, (LabelledScores, ScoreSummary)):
        return scores
    s = np.asarray(scores, dtype="float64").ravel()
    return LabelledScores(np.zeros(s.size, dtype=np.int8), s)


def realised_fpr(
    thresholds: Thresholds,
    valid_legit: np.ndarray | LabelledScores | ScoreSummary,
    test_legit: np.ndarray | LabelledScores | ScoreSummary,
) -> dict[str, float]:
    """Share of legitimate rows at or above each threshold: on validation (<= the budget by construction) and
    on test (what the budget really buys on new rows: the calibration check). Legit rows' scores, or a split's
    scores (`metrics.as_scores`)."""
    valid, test = _legit(valid_legit), _legit(test_legit)
    out = {}
    for name, t in (("alert", thresholds.alert), ("review", thresholds.review)):
        out[f"{name}_fpr_valid"] = valid.legit_share_at_or_above(t)
        out[f"{name}_fpr_test"] = test.legit_share_at_or_above(t)
    return out


def decisions_markdown(entry: dict[str, Any]) -> str:
    """The summary's section on what the registered detector would decide on the test rows."""
    t, c = entry["thresholds"], entry["test_decisions"]
    total = sum(v["rows"] for v in c.values())
    fit = f"fit {entry['fit_seed']}, " if entry.get("fit_seed") is not None else ""
    lines = [
        f"Decisions of the detector `publish` registers ({entry['config']}, {fit}seed {entry['seed']}) on the "
        f"{total} test rows:",
        "",
        "| decision | threshold (score >=) | FPR budget | FPR on validation | FPR on test | rows | frauds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, key in ((ALERT, "alert"), (REVIEW, "review")):
        lines.append(
            f"| {name} | {t[key]:.4f} | {percent(t[key + '_budget'], 2)} | "
            f"{percent(entry[key + '_fpr_valid'], 2)} | "
            f"{percent(entry[key + '_fpr_test'], 2)} | {c[name]['rows']} | {c[name]['frauds']} |"
        )
    lines.append(f"| {PASS} | | | | | {c[PASS]['rows']} | {c[PASS]['frauds']} |")
    lines += [
        "",
        "Thresholds are set on the validation legitimate rows; the test FPR shows what each budget really "
        "buys on new rows (review FPR counts the alert rows too). The review band's rows, with scores, "
        "reasons and true labels, are in `reports/review_queue.csv`.",
    ]
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
