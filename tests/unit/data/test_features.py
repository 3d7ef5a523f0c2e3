"""Tests of the transaction features (pipeline.data.features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config.params import defaults
from pipeline.core.errors import DataError
from pipeline.data.features import add_transaction_features, feature_columns
from pipeline.data.simulate import simulate_transactions

FEATURES = defaults()["data"]["features"]  # windows (1, 7, 30), delay 7: the shipped defaults

KEPT = ["tx_id", "tx_datetime", "customer_id", "terminal_id", "fraud_scenario", "is_fraud", "tx_amount"]


def _tiny() -> pd.DataFrame:
    """Seven hand-made transactions; expected features are worked out in the tests below."""
    rows = [
        # tx_id, time, customer, terminal, amount, fraud
        (0, "2025-01-06 10:00", 1, 1, 10.0, 1),  # Monday
        (1, "2025-01-06 10:00", 1, 2, 20.0, 0),  # same time as tx 0: comes after it (tx_id)
        (2, "2025-01-06 22:00", 1, 1, 30.0, 0),
        (3, "2025-01-07 09:00", 1, 1, 40.0, 0),
        (4, "2025-01-07 12:00", 2, 1, 100.0, 0),
        (5, "2025-01-08 12:00", 2, 1, 60.0, 0),  # tx 4 is exactly 1 day earlier: out of 1d
        (6, "2025-01-11 03:30", 1, 1, 50.0, 1),  # Saturday night
    ]
    df = pd.DataFrame(rows, columns=["tx_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount", "is_fraud"])
    df["tx_datetime"] = pd.to_datetime(df["tx_datetime"])
    df["customer_x"], df["customer_y"] = 0.0, 0.0
    df["terminal_x"], df["terminal_y"] = 3.0, 4.0
    # shuffled input with a non-default index: output must keep this order and index
    df = df.iloc[[6, 1, 0, 4, 2, 5, 3]]
    df.index = [f"r{i}" for i in df["tx_id"]]
    return df


def test_tiny_customer_windows():
    f = add_transaction_features(_tiny(), windows=(1, 7), delay_days=2).set_index("tx_id")
    assert f["customer_nb_tx_1d"].to_dict() == {0: 1, 1: 2, 2: 3, 3: 4, 4: 1, 5: 1, 6: 1}
    assert f["customer_avg_amount_1d"].to_dict() == {0: 10, 1: 15, 2: 20, 3: 25, 4: 100, 5: 60, 6: 50}
    assert f["customer_nb_tx_7d"].to_dict() == {0: 1, 1: 2, 2: 3, 3: 4, 4: 1, 5: 2, 6: 5}
    assert f["customer_avg_amount_7d"].to_dict() == {0: 10, 1: 15, 2: 20, 3: 25, 4: 100, 5: 80, 6: 30}


def test_tiny_terminal_windows_with_delay():
    f = add_transaction_features(_tiny(), windows=(1, 7), delay_days=2).set_index("tx_id")
    # tx 5 (Jan 8 12:00): window ends Jan 6 12:00 and holds tx 0 (fraud) at terminal 1
    # tx 6 (Jan 11 03:30): window ends Jan 9 03:30; 1d holds tx 5, 7d holds tx 0, 2, 3, 4, 5
    assert f["terminal_nb_tx_1d"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1}
    assert f["terminal_risk_1d"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1.0, 6: 0.0}
    assert f["terminal_nb_tx_7d"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 5}
    assert f["terminal_risk_7d"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1.0, 6: 0.2}


def test_tiny_terminal_windows_without_delay_exclude_the_row_itself():
    f = add_transaction_features(_tiny(), windows=(1,), delay_days=0).set_index("tx_id")
    # terminal 1 rows: 0 (Jan 6 10:00, fraud), 2 (Jan 6 22:00), 3 (Jan 7 09:00),
    # 4 (Jan 7 12:00), 5 (Jan 8 12:00), 6 (Jan 11 03:30, fraud)
    assert f["terminal_nb_tx_1d"].to_dict() == {0: 0, 1: 0, 2: 1, 3: 2, 4: 2, 5: 0, 6: 0}
    assert f["terminal_risk_1d"].to_dict() == {0: 0, 1: 0, 2: 1.0, 3: 0.5, 4: 0, 5: 0, 6: 0}


def test_tiny_time_and_distance_features_and_layout():
    tiny = _tiny()
    f = add_transaction_features(tiny, windows=(1, 7), delay_days=2)
    assert list(f.index) == list(tiny.index)
    assert list(f["tx_id"]) == list(tiny["tx_id"])
    assert list(f.columns) == [c for c in KEPT if c != "fraud_scenario"] + feature_columns((1, 7))
    g = f.set_index("tx_id")
    assert g.loc[0, "tx_hour"] == 10.0 and g.loc[6, "tx_hour"] == 3.5
    assert g["tx_is_weekend"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 1}
    assert g["tx_is_night"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 1}
    assert (g["customer_terminal_distance"] == 5.0).all()
    for col in ["customer_x", "customer_y", "terminal_x", "terminal_y"]:
        assert col not in f.columns


def test_tz_aware_times_give_the_same_windows():
    tiny = _tiny()
    aware = tiny.assign(tx_datetime=tiny["tx_datetime"].dt.tz_localize("UTC"))
    a = add_transaction_features(tiny, windows=(1, 7), delay_days=2)
    b = add_transaction_features(aware, windows=(1, 7), delay_days=2)
    pd.testing.assert_frame_equal(a.drop(columns="tx_datetime"), b.drop(columns="tx_datetime"))


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return simulate_transactions(
        **{
            **defaults()["data"]["simulate"],
            "n_customers": 300,
            "n_terminals": 600,
            "n_days": 30,
            "day_offset": 0,
            "seed": 4,
        }
    )


@pytest.fixture(scope="module")
def sim_features(sim) -> pd.DataFrame:
    return add_transaction_features(sim, **FEATURES)


def test_simulated_frame_layout_and_no_nan(sim, sim_features):
    f = sim_features
    assert f.index.equals(sim.index)
    assert list(f.columns) == KEPT + feature_columns((1, 7, 30))
    for col in KEPT:
        pd.testing.assert_series_equal(f[col], sim[col])
    assert not f.isna().any().any()
    assert (f["customer_nb_tx_1d"] >= 1).all()
    assert f[[c for c in f.columns if c.startswith("terminal_risk")]].stack().between(0, 1).all()
    # the windows nest: longer windows hold at least as many rows
    assert (f["customer_nb_tx_7d"] >= f["customer_nb_tx_1d"]).all()
    assert (f["terminal_nb_tx_30d"] >= f["terminal_nb_tx_7d"]).all()
    # compromised terminals show up in the delayed risk of later frauds
    late = f[(f["fraud_scenario"] == 2) & (f["tx_datetime"] >= pd.Timestamp("2025-01-20"))]
    assert late["terminal_risk_30d"].mean() > 10 * f.loc[f["is_fraud"] == 0, "terminal_risk_30d"].mean()


def test_no_future_information(sim, sim_features):
    cut = pd.Timestamp("2025-01-18 13:00")
    kept = sim[sim["tx_datetime"] <= cut]
    assert 0 < len(kept) < len(sim)
    part = add_transaction_features(kept, **FEATURES)
    pd.testing.assert_frame_equal(part, sim_features.loc[kept.index], check_exact=True)


def test_input_order_does_not_matter(sim, sim_features):
    shuffled = sim.sample(frac=1.0, random_state=1)
    f = add_transaction_features(shuffled, **FEATURES)
    assert f.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(f.loc[sim.index], sim_features, check_exact=True)


def test_same_timestamp_rows_are_ordered_by_tx_id(sim):
    tiny = sim.head(50).copy()
    tiny["tx_datetime"] = tiny["tx_datetime"].iloc[0]
    tiny["customer_id"] = 1
    f = add_transaction_features(tiny, **FEATURES)
    assert f["customer_nb_tx_1d"].tolist() == list(range(1, 51))


def test_empty_frame(sim):
    f = add_transaction_features(sim.iloc[:0], **FEATURES)
    assert len(f) == 0 and list(f.columns) == KEPT + feature_columns((1, 7, 30))


def test_bad_frames_raise_data_error():
    tiny = _tiny()
    with pytest.raises(DataError, match="terminal_x"):
        add_transaction_features(tiny.drop(columns="terminal_x"), **FEATURES)
    with pytest.raises(DataError, match="tx_id"):
        add_transaction_features(tiny.assign(tx_id=0), **FEATURES)
    with pytest.raises(DataError, match="tx_amount"):
        add_transaction_features(tiny.assign(tx_amount=np.nan), **FEATURES)
    with pytest.raises(DataError, match="is_fraud"):
        add_transaction_features(tiny.assign(is_fraud=2), **FEATURES)
