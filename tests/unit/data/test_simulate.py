"""Tests of the transaction simulator (pipeline.data.simulate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config.params import defaults
from pipeline.data.simulate import COLUMNS, simulate_transactions

DEFAULTS = defaults()["data"]["simulate"]  # the shipped defaults, from the one spec
SMALL = {**DEFAULTS, "n_customers": 300, "n_terminals": 600, "n_days": 30, "day_offset": 0}


@pytest.fixture(scope="module")
def default_tx() -> pd.DataFrame:
    return simulate_transactions(**{**DEFAULTS, "day_offset": 0})


@pytest.fixture(scope="module")
def small_tx() -> pd.DataFrame:
    return simulate_transactions(**{**SMALL, "seed": 11})


def _day(tx: pd.DataFrame) -> pd.Series:
    return (tx["tx_datetime"] - pd.Timestamp("2025-01-01")).dt.days


def test_same_seed_same_frame_other_seed_other_frame(small_tx):
    pd.testing.assert_frame_equal(small_tx, simulate_transactions(**{**SMALL, "seed": 11}), check_exact=True)
    other = simulate_transactions(**{**SMALL, "seed": 12})
    assert not (len(other) == len(small_tx) and other.equals(small_tx))


def test_columns_dtypes_and_order(small_tx):
    assert list(small_tx.columns) == COLUMNS
    dtypes = small_tx.dtypes.astype(str).to_dict()
    for col in ["tx_id", "customer_id", "terminal_id", "fraud_scenario", "is_fraud"]:
        assert dtypes[col] == "int64", col
    for col in ["tx_amount", "customer_x", "customer_y", "terminal_x", "terminal_y"]:
        assert dtypes[col] == "float64", col
    assert dtypes["tx_datetime"] == "datetime64[ns]"
    assert small_tx["tx_id"].is_unique
    assert small_tx["tx_datetime"].is_monotonic_increasing
    assert isinstance(small_tx.index, pd.RangeIndex)
    assert (small_tx["is_fraud"] == (small_tx["fraud_scenario"] > 0)).all()
    assert small_tx["fraud_scenario"].between(0, 4).all()
    assert (small_tx["tx_amount"] > 0).all()
    assert np.allclose(small_tx["tx_amount"], small_tx["tx_amount"].round(2))
    days = _day(small_tx)
    assert days.min() == 0 and days.max() == SMALL["n_days"] - 1
    assert not small_tx.isna().any().any()


def test_default_fraud_rate_and_scenarios(default_tx):
    rate = default_tx["is_fraud"].mean()
    assert 0.003 <= rate <= 0.015, rate
    assert set(default_tx["fraud_scenario"].unique()) == {0, 1, 2, 3, 4}


def test_scenario4_grows_over_time(default_tx):
    days = _day(default_tx)
    s4 = default_tx["fraud_scenario"] == 4
    n_days = days.max() + 1
    first = s4[days < n_days // 3].sum()
    last = s4[days >= n_days - n_days // 3].sum()
    assert last > 2 * max(first, 1), (first, last)


def test_scenario_shapes(default_tx):
    tx = default_tx
    sc = tx["fraud_scenario"]
    assert (tx.loc[sc == 1, "tx_amount"] > 220).all()
    assert (tx.loc[sc == 0, "tx_amount"] <= 220).all()
    s4 = tx[sc == 4]
    hour = s4["tx_datetime"].dt.hour
    assert hour.between(1, 4).all()
    assert s4["tx_amount"].between(1, 15).all()
    dist = np.hypot(s4["customer_x"] - s4["terminal_x"], s4["customer_y"] - s4["terminal_y"])
    assert dist.median() >= 25
    # scenario 3 multiplies amounts by 5: on average far above the customer's usual amounts
    assert tx.loc[sc == 3, "tx_amount"].mean() > 3 * tx.loc[sc == 0, "tx_amount"].mean()
    # legit rows use terminals within the radius (every customer has some at this density)
    legit = tx[sc == 0]
    d0 = np.hypot(legit["customer_x"] - legit["terminal_x"], legit["customer_y"] - legit["terminal_y"])
    assert (d0 <= 5.0 + 1e-9).all()


def test_scenario2_compromised_terminal_frauds_cluster(default_tx):
    s2 = default_tx[default_tx["fraud_scenario"] == 2]
    # each compromised terminal gives several frauds over its 28 days
    assert s2.groupby("terminal_id").size().median() >= 3


def test_day_offset_gives_identical_days():
    a = simulate_transactions(**{**SMALL, "seed": 5, "day_offset": 0})
    b = simulate_transactions(**{**SMALL, "seed": 5, "day_offset": 10})
    da, db = _day(a), _day(b)
    assert db.min() == 10 and db.max() == 39
    overlap_a = a[da >= 10].reset_index(drop=True)
    overlap_b = b[db < 30].reset_index(drop=True)
    pd.testing.assert_frame_equal(overlap_a, overlap_b, check_exact=True)
    assert overlap_a["is_fraud"].sum() > 0  # includes frauds from events before the window


def test_start_date_shifts_times_only():
    a = simulate_transactions(**{**SMALL, "seed": 3})
    b = simulate_transactions(**{**SMALL, "seed": 3, "start_date": "2024-03-01"})
    pd.testing.assert_series_equal(
        a["tx_datetime"] - pd.Timestamp("2025-01-01"), b["tx_datetime"] - pd.Timestamp("2024-03-01")
    )
    pd.testing.assert_frame_equal(a.drop(columns="tx_datetime"), b.drop(columns="tx_datetime"))


def test_tiny_radius_falls_back_to_nearest_terminal():
    tx = simulate_transactions(
        **{**DEFAULTS, "n_customers": 50, "n_terminals": 80, "n_days": 5, "radius": 0.01, "seed": 2}
    )
    legit = tx[tx["fraud_scenario"] == 0]
    assert legit.groupby("customer_id")["terminal_id"].nunique().max() == 1
    terms = tx.drop_duplicates("terminal_id").set_index("terminal_id")[["terminal_x", "terminal_y"]]
    row = legit.iloc[0]
    d = np.hypot(terms["terminal_x"] - row["customer_x"], terms["terminal_y"] - row["customer_y"])
    assert d.idxmin() == row["terminal_id"]
