import pandas as pd
import pytest

from pipeline.core.errors import DataError
from pipeline.data.split import split_table
from tests.helpers import tabular_frame


def test_time_split_order_gap_and_sizes():
    df = tabular_frame(10000, fraud_rate=0.05)
    parts = split_table(df, "Class", "Time", 0.6, 0.1, 0.1, 0.2, min_frauds=10)
    n = {k: len(v) for k, v in parts.items()}
    assert abs(n["train"] - 6000) < 30 and abs(n["valid"] - 1000) < 30 and abs(n["test"] - 2000) < 30
    assert parts["train"]["Time"].max() < parts["valid"]["Time"].min()
    assert parts["valid"]["Time"].max() < parts["test"]["Time"].min()
    assert sum(n.values()) < len(df)  # the gap is dropped


def test_equal_timestamps_stay_together():
    df = tabular_frame(2000, fraud_rate=0.2).assign(Time=lambda d: (d.index // 100).astype(float))
    parts = split_table(df, "Class", "Time", 0.55, 0.0, 0.2, 0.25, min_frauds=5)
    assert not set(parts["train"]["Time"]) & set(parts["valid"]["Time"])
    assert not set(parts["valid"]["Time"]) & set(parts["test"]["Time"])


def test_stratified_split_keeps_fraud_rate_and_is_seeded():
    df = tabular_frame(5000, fraud_rate=0.04, with_time=False)
    a = split_table(df, "Class", None, 0.6, 0.0, 0.2, 0.2, min_frauds=10, seed=3)
    b = split_table(df, "Class", None, 0.6, 0.0, 0.2, 0.2, min_frauds=10, seed=3)
    rate = df["Class"].mean()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
        assert abs(a[name]["Class"].mean() - rate) < 0.005
    assert sum(len(p) for p in a.values()) == len(df)


def test_min_frauds_message_says_count_and_fix():
    df = tabular_frame(3000, fraud_rate=0.01)
    with pytest.raises(DataError, match=r"holds \d+ fraud\(s\).*split.min_frauds=500.*lower split.min_frauds"):
        split_table(df, "Class", "Time", 0.6, 0.0, 0.2, 0.2, min_frauds=500)


def test_stratified_assignment_nearly_stable_when_table_grows():
    df = tabular_frame(6000, fraud_rate=0.05, with_time=False)
    small = split_table(df.iloc[:5000], "Class", None, 0.6, 0.0, 0.2, 0.2, min_frauds=10, seed=1)
    big = split_table(df, "Class", None, 0.6, 0.0, 0.2, 0.2, min_frauds=10, seed=1)
    key = lambda d: set(map(tuple, d.astype(str).to_numpy()))  # noqa: E731
    moved_into_test = key(small["train"]) & key(big["test"])
    assert len(moved_into_test) < 0.02 * len(small["train"])


def test_date_only_timestamps_keep_the_gap_and_the_shares():
    df = tabular_frame(9000, fraud_rate=0.1)
    df["Time"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(df.index // 100, unit="D")  # 90 days, dates only
    parts = split_table(df, "Class", "Time", 0.6, 0.05, 0.15, 0.2, min_frauds=10)
    n = {k: len(v) for k, v in parts.items()}
    assert abs(n["train"] / 9000 - 0.6) <= 0.01 and abs(n["valid"] / 9000 - 0.15) <= 0.01
    assert abs(n["test"] / 9000 - 0.2) <= 0.01
    gap_days = (parts["valid"]["Time"].min() - parts["train"]["Time"].max()).days - 1
    assert gap_days >= 4  # the label-delay gap holds whole days, not 0 rows
    assert not set(parts["train"]["Time"]) & set(parts["valid"]["Time"])


def test_a_gap_smaller_than_one_timestamp_is_an_error_not_a_silent_zero():
    df = tabular_frame(2000, fraud_rate=0.2)
    df["Time"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(df.index // 200, unit="D")  # 10 days of 200 rows
    with pytest.raises(DataError) as e:
        split_table(df, "Class", "Time", 0.6, 0.05, 0.15, 0.2, min_frauds=5)
    assert str(e.value).startswith(
        "time column 'Time' has 10 distinct values for 2000 rows (e.g. 200 rows share "
        "2025-01-01 00:00:00), so split.gap = 0.05 can only get "
    )
    assert "use a finer time column (date and time)" in str(e.value)
