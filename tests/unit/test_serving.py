"""pipeline.serving: thresholds, decisions, reasons and defined behaviour on awkward requests."""

import numpy as np
import pandas as pd
import pytest

from pipeline.data.contract import infer_schema
from pipeline.detector import predict_scores, train_detector
from pipeline.serving import (ALERT, PASS, REVIEW, Scorer, ServingInputError, Thresholds, decision_counts,
                              decisions_markdown, realised_fpr, serving_frame)
from tests.helpers import tabular_frame

LABEL = "Class"


@pytest.fixture(scope="module")
def scorer():
    df = tabular_frame(4000, seed=1).drop(columns="Time")
    train, valid = df.iloc[:3000], df.iloc[3000:]
    schema = infer_schema(train, LABEL)
    model, _ = train_detector(schema.to_model_frame(train), train[LABEL].to_numpy(), schema.to_model_frame(valid),
                              valid[LABEL].to_numpy(), {"n_estimators": 60, "max_depth": 3, "n_jobs": 1}, seed=0)
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
    np.testing.assert_allclose(s.predict(sent)["score"], s.predict(valid.head(4).assign(
        channel=[None, "web", "atm", "pos"]))["score"])


def test_counts_realised_fpr_and_summary():
    t = Thresholds(0.005, 0.02, alert=0.9, review=0.5)
    counts = decision_counts(np.array([ALERT, REVIEW, PASS, PASS]), np.array([1, 0, 1, 0]))
    assert counts == {ALERT: {"rows": 1, "frauds": 1}, REVIEW: {"rows": 1, "frauds": 0}, PASS: {"rows": 2, "frauds": 1}}
    fpr = realised_fpr(t, np.array([0.1, 0.6, 0.95, 0.2]), np.array([0.1, 0.2]))
    assert fpr == {"alert_fpr_valid": 0.25, "alert_fpr_test": 0.0, "review_fpr_valid": 0.5, "review_fpr_test": 0.0}
    text = decisions_markdown({"config": "baseline", "seed": 0, "thresholds": t.to_dict(), "test_decisions": counts,
                               **fpr})
    assert "| alert | 0.9000 | 0.50% | 25.00% | 0.00% | 1 | 1 |" in text and "review_queue.csv" in text
