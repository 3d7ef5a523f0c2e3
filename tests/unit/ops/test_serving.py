"""pipeline.ops.serving: thresholds, decisions, reasons and defined behaviour on awkward requests."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import DataError
from pipeline.core.schema import RESERVED_PREFIX, Schema
from pipeline.data.contract import infer_schema
from pipeline.experiment.detector import predict_scores, train_detector
from pipeline.ops.serving import (
    ALERT,
    MISSING_POLICIES,
    MISSING_REJECT,
    MISSING_REVIEW,
    OUTPUT_COLUMNS,
    PASS,
    QUEUE_COLUMNS,
    REVIEW,
    Scorer,
    ServingInputError,
    Thresholds,
    decision_counts,
    decisions_markdown,
    missing_markdown,
    queue_frame,
    realised_fpr,
    serving_frame,
    training_missing,
)
from tests.helpers import tabular_frame

LABEL = "Class"


@pytest.fixture(scope="module")
def scorer():
    df = tabular_frame(4000, seed=1).drop(columns="Time")
    train, valid = df.iloc[:3000], df.iloc[3000:]
    schema = infer_schema(train, LABEL)
    model, _ = train_detector(
        schema.to_model_frame(train),
        train[LABEL].to_numpy(),
        schema.to_model_frame(valid),
        valid[LABEL].to_numpy(),
        {"n_estimators": 60, "max_depth": 3, "n_jobs": 1},
        seed=0,
    )
    sv = predict_scores(model, schema.to_model_frame(valid))
    t = Thresholds.from_validation(sv[valid[LABEL].to_numpy() == 0], 0.01, 0.05, reasons=2)
    return Scorer(model, schema, t), valid.reset_index(drop=True)


def test_thresholds_and_bands(scorer):
    s, valid = scorer
    t = s.thresholds
    assert t.alert >= t.review
    assert list(t.decide(np.array([t.alert, t.review, np.nextafter(t.review, -1)]))) == [ALERT, REVIEW, PASS]
    out = s.predict(valid)
    legit = out["score"].to_numpy()[valid[LABEL].to_numpy() == 0]
    assert np.mean(legit >= t.alert) <= 0.01 and np.mean(legit >= t.review) <= 0.05  # budgets hold on validation
    fraud_share = {d: valid[LABEL].to_numpy()[out["decision"].to_numpy() == d].mean() for d in (ALERT, PASS)}
    assert fraud_share[ALERT] > fraud_share[PASS]


def test_reasons_name_the_users_features_with_positive_contributions(scorer):
    s, valid = scorer
    out = s.predict(valid.head(50))
    assert list(out.columns) == ["score", "decision", "reasons"]
    for text in out["reasons"]:
        parts = [p for p in text.split("; ") if p]
        assert len(parts) <= 2
        for p in parts:
            name = p.split("=")[0]
            assert name in s.schema.feature_names and p.endswith(")") and "(+" in p


def test_reasons_explain_the_rows_that_are_not_passed_exactly_as_for_every_row(scorer):
    """Contributions are computed for alert and review rows only: their reasons equal those computed for all
    rows at once (row by row, whatever else is in the request); a passed row has none."""
    s, valid = scorer
    out = s.predict(valid)
    flagged = out["decision"].to_numpy() != PASS
    assert flagged.any() and (~flagged).any()
    X = s.schema.to_model_frame(valid[s.schema.feature_names])
    everyone = np.asarray(s.reasons(X, valid[s.schema.feature_names]), dtype=object)
    assert list(out["reasons"][flagged]) == list(everyone[flagged])
    assert (out["reasons"][~flagged] == "").all() and (everyone[~flagged] != "").any()
    # one row at a time answers the same as the whole table
    for i in np.flatnonzero(flagged)[:5]:
        pd.testing.assert_frame_equal(s.predict(valid.iloc[[i]]), out.iloc[[i]].reset_index(drop=True))


def test_awkward_requests_have_defined_behaviour(scorer):
    s, valid = scorer
    rows = valid.head(5).copy()
    base = s.predict(rows)
    # extra columns are ignored; column order does not matter
    shuffled = rows[list(reversed(rows.columns))].assign(extra="x")
    pd.testing.assert_frame_equal(s.predict(shuffled), base)
    # an unseen category scores exactly like a missing one
    unseen = s.predict(rows.assign(channel="never-seen"))
    missing = s.predict(rows.assign(channel=None))
    np.testing.assert_array_equal(unseen["score"], missing["score"])
    # missing column and non-numeric value: one clear error naming the column
    with pytest.raises(ServingInputError, match=r"missing feature column\(s\) \['amount'\]"):
        s.predict(rows.drop(columns="amount"))
    bad = rows.astype({"v1": object})
    bad.loc[2, "v1"] = "abc"
    with pytest.raises(ServingInputError, match=r"column 'v1' must hold numbers; row 2 has 'abc'"):
        s.predict(bad)
    # numbers sent as strings are numbers; empty strings in a categorical are missing
    as_text = rows.astype({"amount": str}).assign(channel="")
    np.testing.assert_allclose(s.predict(as_text)["score"], missing["score"])
    assert s.predict(rows.iloc[:0]).empty


def test_serving_frame_is_what_a_client_sends(scorer):
    s, valid = scorer
    sent = serving_frame(s.schema, valid.head(4).assign(channel=[None, "web", "atm", "pos"]))
    assert list(sent.columns) == s.schema.feature_names and sent["channel"].tolist() == ["", "web", "atm", "pos"]
    assert sent["count"].dtype == "float64"
    np.testing.assert_allclose(
        s.predict(sent)["score"], s.predict(valid.head(4).assign(channel=[None, "web", "atm", "pos"]))["score"]
    )


def test_counts_realised_fpr_and_summary():
    t = Thresholds(0.005, 0.02, alert=0.9, review=0.5)
    counts = decision_counts(np.array([ALERT, REVIEW, PASS, PASS]), np.array([1, 0, 1, 0]))
    assert counts == {ALERT: {"rows": 1, "frauds": 1}, REVIEW: {"rows": 1, "frauds": 0}, PASS: {"rows": 2, "frauds": 1}}
    fpr = realised_fpr(t, np.array([0.1, 0.6, 0.95, 0.2]), np.array([0.1, 0.2]))
    assert fpr == {"alert_fpr_valid": 0.25, "alert_fpr_test": 0.0, "review_fpr_valid": 0.5, "review_fpr_test": 0.0}
    text = decisions_markdown(
        {"config": "baseline", "seed": 0, "thresholds": t.to_dict(), "test_decisions": counts, **fpr}
    )
    assert "| alert | 0.9000 | 0.50% | 25.00% | 0.00% | 1 | 1 |" in text and "review_queue.csv" in text


# -- missing values at serving (serve.missing) ----------------------------------------------------------------------
def _with_policy(scorer, policy, shares=None, limit=0.01):
    s, valid = scorer
    shares = shares if shares is not None else {f: 0.0 for f in s.schema.feature_names}  # never missing in training
    return Scorer(
        s.model, s.schema, replace(s.thresholds, missing=policy, missing_share=limit, training_missing=shares)
    ), valid


def _with_null(rows: pd.DataFrame, name: str, i: int) -> pd.DataFrame:
    out = rows.copy()
    out[name] = out[name].astype(object)
    out.loc[i, name] = None
    return out


def test_review_policy_sends_a_null_in_each_guarded_feature_to_review_with_the_reason(scorer):
    s, valid = _with_policy(scorer, MISSING_REVIEW)
    rows = valid.head(6).reset_index(drop=True)
    base = s.predict(rows)
    for name in s.schema.feature_names:
        for frame in (rows, serving_frame(s.schema, rows)):  # as prepared, and as a client sends it
            out = s.predict(_with_null(frame, name, 2))
            assert out.loc[2, "decision"] == REVIEW and out.loc[2, "reasons"] == f"missing: {name}", name
            assert np.isfinite(out.loc[2, "score"])  # the model's score is still reported
            # the other rows are untouched
            pd.testing.assert_frame_equal(out.drop(index=2), base.drop(index=2))
    # an empty string in a categorical is a missing value too; several missing features are all named
    both = _with_null(rows, "amount", 0).assign(channel=["", *rows["channel"][1:]])
    assert s.predict(both).loc[0, "reasons"] == "missing: amount, channel"
    # scores alone (retrain, evaluate) are the model's whatever the policy
    np.testing.assert_allclose(s.scores(both), scorer[0].scores(both))


def test_reject_policy_names_the_feature_and_row(scorer):
    s, valid = _with_policy(scorer, MISSING_REJECT)
    rows = valid.head(5).reset_index(drop=True)
    for name in s.schema.feature_names:
        with pytest.raises(
            ServingInputError,
            match=rf"feature '{name}' is missing in row 3; it was missing in 0.00% "
            r"of training rows.*serve.missing: reject",
        ):
            s.predict(_with_null(rows, name, 3))
    assert len(s.predict(rows)) == 5  # complete rows are scored
    assert len(s.scores(_with_null(rows, "amount", 3))) == 5


def test_model_policy_and_commonly_missing_features_keep_the_models_routing(scorer):
    base, valid = scorer
    rows = _with_null(_with_null(valid.head(5).reset_index(drop=True), "amount", 1), "v1", 1)
    expected = base.predict(rows)  # no policy: the artifact of an older model
    s, _ = _with_policy(scorer, "model")
    pd.testing.assert_frame_equal(s.predict(rows), expected)
    # amount and v1 missing in 30% of training rows: the model learnt their missing value, under every policy
    shares = {f: 0.3 if f in ("amount", "v1") else 0.0 for f in base.schema.feature_names}
    for policy in (MISSING_REVIEW, MISSING_REJECT):
        s, _ = _with_policy(scorer, policy, shares)
        pd.testing.assert_frame_equal(s.predict(rows), expected)
    s, _ = _with_policy(scorer, MISSING_REVIEW, shares, limit=0.3)  # the limit is inclusive
    assert s.predict(rows).loc[1, "reasons"] == "missing: amount, v1"


def test_training_missing_shares_and_their_summary(tmp_path, scorer):
    s, valid = scorer
    rows = valid.head(10).reset_index(drop=True).astype({"amount": "float64", "channel": object})
    rows.loc[:1, "amount"] = np.nan
    rows.loc[0, "channel"] = None
    rows["count"] = pd.array([None] * 5 + list(rows["count"][5:]), dtype="Int64")
    rows.to_parquet(tmp_path / "train.parquet")
    shares = training_missing(tmp_path / "train.parquet", s.schema)
    assert shares == {"amount": 0.2, "v1": 0.0, "count": 0.5, "channel": 0.1}
    t = Thresholds(0.005, 0.02, 0.9, 0.5, missing=MISSING_REVIEW, missing_share=0.1, training_missing=shares)
    assert t.guarded(s.schema.feature_names) == ["v1", "channel"]
    text = missing_markdown(t.to_dict())
    assert "`serve.missing: review`" in text and "| amount | 20.00% | model |" in text
    assert "| channel | 10.00% | review |" in text and "| v1 | 0.00% | review |" in text
    assert Thresholds(**{k: v for k, v in t.to_dict().items()}) == t  # thresholds.json round trip
    assert missing_markdown(Thresholds(0.005, 0.02, 0.9, 0.5).to_dict()) == ""  # an older artifact: no section


def test_training_missing_reads_a_folder_of_parts(tmp_path, scorer):
    s, valid = scorer
    (tmp_path / "train").mkdir()
    part = valid.head(50).copy()
    part.loc[:9, "v1"] = np.nan
    part.to_parquet(tmp_path / "train" / "part-00000.parquet")
    valid.iloc[50:100].to_parquet(tmp_path / "train" / "part-00001.parquet")
    assert training_missing(tmp_path / "train", s.schema) == {"amount": 0.0, "v1": 0.1, "count": 0.0, "channel": 0.0}
    with pytest.raises(DataError, match="not found; run the prepare stage"):
        training_missing(tmp_path / "nope.parquet", s.schema)


def test_serve_missing_choices_are_the_policies():
    from pipeline.config.params import SPEC

    check, default = SPEC.spec["serve"][0].spec["missing"]
    assert tuple(check.choices) == MISSING_POLICIES and default == MISSING_REVIEW


# -- no pipeline name can meet a user column -----------------------------------------------------------------------
def test_user_columns_named_like_the_outputs_stay_apart(scorer):
    s, valid = scorer
    rows = valid.head(4).reset_index(drop=True)
    user = rows.assign(**{c: [1.0, 2.0, 3.0, 4.0] for c in OUTPUT_COLUMNS})
    out = s.predict(user)  # extra columns are ignored: the answer is a frame of its own
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    queue = queue_frame(user, out)
    assert queue.columns.is_unique and list(queue.columns) == list(user.columns) + list(QUEUE_COLUMNS.values())
    pd.testing.assert_series_equal(queue["score"], user["score"])
    np.testing.assert_allclose(queue[QUEUE_COLUMNS["score"]], out["score"])


def test_the_reserved_namespace_is_refused_in_one_line():
    schema = Schema.from_dict(
        {"label": "Class", "features": [{"name": "score", "type": "numerical", "dtype": "float64"}]}
    )
    assert schema.feature_names == ["score"]
    for where in (
        {"features": [{"name": RESERVED_PREFIX + "score", "type": "numerical", "dtype": "float64"}]},
        {"features": [], "meta": [RESERVED_PREFIX + "x"]},
    ):
        with pytest.raises(DataError, match=r"start with 'pipeline\.', which the pipeline reserves .* rename them"):
            Schema.from_dict({"label": "Class", **where})


# -- the lean scoring path answers exactly as the model-frame path it replaced ----------------------------------------
def _previous_predict(s: Scorer, rows: pd.DataFrame) -> pd.DataFrame:
    """The computation `Scorer.predict` did before it built its own matrix: the model frame (`to_model_frame`),
    `predict_proba`, contributions on a pandas DMatrix, missing values found column by column."""
    import xgboost as xgb

    from pipeline.ops.serving import _show

    t, names = s.thresholds, s.schema.feature_names
    features = rows[names]
    miss = {}
    for n in t.guarded(names):
        col = features[n]
        m = col.isna().to_numpy(dtype=bool)
        if s.schema.feature(n).is_categorical:
            m |= col.map(lambda v: isinstance(v, str) and v.strip() == "").to_numpy(dtype=bool)
        miss[n] = m
    if t.missing == MISSING_REJECT:
        for n, m in miss.items():
            if m.any():
                raise ServingInputError(f"feature {n!r} is missing in row {int(np.flatnonzero(m)[0])}")
    X = s.schema.to_model_frame(features)
    scores = predict_scores(s.model, X)
    decisions = t.decide(scores)
    lacking = np.array(
        [
            ""
            if t.missing != MISSING_REVIEW
            else ("missing: " + ", ".join(n for n in miss if miss[n][i]) if any(m[i] for m in miss.values()) else "")
            for i in range(len(X))
        ],
        dtype=object,
    )
    reasons = np.full(len(X), "", dtype=object)
    explain = np.flatnonzero((decisions != PASS) & (lacking == ""))
    if len(explain):
        best = getattr(s.model, "best_iteration", None)
        contribs = s.model.get_booster().predict(
            xgb.DMatrix(X.iloc[explain], enable_categorical=True),
            pred_contribs=True,
            iteration_range=(0, int(best) + 1) if best is not None else (0, 0),
        )[:, :-1]
        top = np.argsort(-contribs, axis=1, kind="stable")[:, : t.reasons]
        value = np.take_along_axis(contribs, top, axis=1)
        cols = [features[n].to_numpy(dtype=object)[explain] for n in names]
        reasons[explain] = [
            "; ".join(f"{names[j]}={_show(cols[j][i])} ({v:+.2f})" for j, v in zip(top[i], value[i]) if v > 0)
            for i in range(len(top))
        ]
    guarded = lacking != ""
    decisions[guarded], reasons[guarded] = REVIEW, lacking[guarded]
    return pd.DataFrame({"score": scores, "decision": decisions, "reasons": reasons})


def _awkward_rows(valid: pd.DataFrame) -> pd.DataFrame:
    """Real-ish rows with a null in every feature somewhere, unseen and empty categories, numbers as text."""
    rows = (
        valid.head(300)
        .reset_index(drop=True)
        .astype({"amount": object, "v1": "float64", "count": object, "channel": object})
    )
    rows.loc[3, "amount"] = None
    rows.loc[[4, 9], "v1"] = np.nan
    rows.loc[5, "count"] = None
    rows.loc[6, "channel"] = None
    rows.loc[7, "channel"] = ""
    rows.loc[8, "channel"] = "never-seen"
    rows.loc[9, ["amount", "count"]] = [None, None]
    rows.loc[10, "amount"] = "12.5"  # a number sent as text
    rows.loc[11, "count"] = 2.6  # a non-whole count: rounded, as conform rounds it
    return rows


@pytest.mark.parametrize("policy", MISSING_POLICIES)
def test_predict_equals_the_previous_model_frame_path_under_each_missing_policy(scorer, policy):
    s, valid = _with_policy(scorer, policy)
    complete = valid.head(300).reset_index(drop=True)
    awkward = _awkward_rows(valid)
    frames = [
        complete,
        complete[list(reversed(complete.columns))].assign(extra="x"),
        serving_frame(s.schema, complete),
        complete.astype({"count": "Int64"}),
    ]
    if policy != MISSING_REJECT:
        frames += [awkward, serving_frame(s.schema, awkward)]
    for rows in frames:
        expected = _previous_predict(s, rows)
        assert (expected["decision"] != PASS).any() and (expected["reasons"] != "").any()
        out = s.predict(rows)
        pd.testing.assert_frame_equal(out, expected, check_exact=True)
        np.testing.assert_array_equal(
            s.scores(rows), predict_scores(s.model, s.schema.to_model_frame(rows[s.schema.feature_names]))
        )
        for i in (0, 3, 6, 7, 8, 9, 10, 11, *np.flatnonzero(expected["decision"] != PASS)[:5]):  # one row alone
            pd.testing.assert_frame_equal(
                s.predict(rows.iloc[[i]]), expected.iloc[[i]].reset_index(drop=True), check_exact=True
            )
    if policy == MISSING_REJECT:
        for i, name in ((3, "amount"), (4, "v1"), (5, "count"), (6, "channel"), (7, "channel")):
            with pytest.raises(ServingInputError, match=f"feature '{name}' is missing in row {i}"):
                s.predict(pd.concat([complete.head(i).astype(object), awkward.iloc[[i]]], ignore_index=True))


def test_scores_and_reasons_do_not_depend_on_the_thread_count(scorer):
    s, valid = _with_policy(scorer, MISSING_REVIEW)
    import pipeline.ops.serving as serving

    rows = valid.head(300).reset_index(drop=True)
    few = s.predict(rows)
    old = serving.ONE_THREAD_ROWS
    try:
        serving.ONE_THREAD_ROWS = 0  # every request on all cores
        pd.testing.assert_frame_equal(s.predict(rows), few, check_exact=True)
    finally:
        serving.ONE_THREAD_ROWS = old


def _codes_row_by_row(col, codes, kept, other):
    """The per-row reading `_category_codes` replaced (kept here as its reference)."""
    raw = col.astype(object).where(col.notna(), None).to_numpy(dtype=object)
    code, missing = np.full(len(raw), np.nan), np.zeros(len(raw), dtype=bool)
    for r, v in enumerate(raw):
        if v is None:
            missing[r] = True
            continue
        text = str(v)
        if text.strip() == "":
            missing[r] = isinstance(v, str)
            continue
        code[r] = codes.get(other if kept is not None and text not in kept else text, np.nan)
    return code, missing


@pytest.mark.parametrize("grouped", [False, True])
def test_category_codes_equal_the_row_by_row_reading(grouped):
    from pipeline.ops.serving import _category_codes

    levels = ["a", "b", " c", "10", "1.5", "other"]
    codes = {c: float(k) for k, c in enumerate(levels)}
    kept = {"a", "b", " c"} if grouped else None
    rng = np.random.default_rng(3)
    pool = np.array(
        ["a", "b", " c", "c", "10", 10, 1.5, "1.5", "", "  ", None, np.nan, pd.NA, "zz", "other", True, 0.0],
        dtype=object,
    )
    texts = pool[[isinstance(v, str) or v is None for v in pool]]
    for n in (0, 1, 7, 300):
        mixed = pd.Series(pool[rng.integers(0, len(pool), n)], dtype=object)
        strings = pd.Series(texts[rng.integers(0, len(texts), n)], dtype=object).astype("string")
        for col in (mixed, strings):
            got = _category_codes(col, codes, kept, "other" if grouped else None)
            want = _codes_row_by_row(col, codes, kept, "other" if grouped else None)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
