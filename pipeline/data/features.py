"""Per-transaction features for the simulated card transactions (Fraud Detection Handbook style).

Every feature of a transaction uses only the transaction itself and rows before it:

* time: ``tx_hour`` (hour of day with fraction), ``tx_is_weekend``, ``tx_is_night`` (hour < 6);
* customer windows ``(t - w days, t]``: ``customer_nb_tx_{w}d`` and ``customer_avg_amount_{w}d``,
  counting the current transaction and, among rows with the same timestamp, only those that come
  first in ``(tx_datetime, tx_id)`` order;
* terminal windows ``(t - delay - w days, t - delay]``: ``terminal_nb_tx_{w}d`` and
  ``terminal_risk_{w}d`` (fraud rate, 0 without transactions), shifted by `delay_days` because
  fraud labels arrive late. With ``delay_days=0`` the window stops just before the current row
  in ``(tx_datetime, tx_id)`` order, so a row never sees its own label;
* ``customer_terminal_distance``: euclidean distance between home and terminal.

Deleting rows later in time never changes the features of the rows left. Everything is
vectorised: rows are ordered by (group, time, tx_id) once per grouping, window bounds come from
``np.searchsorted`` on a combined integer key ``group code * K + time rank``, and window sums
from cumulative sums (per group for amounts, so float results depend on the group's own past
rows only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.data.simulate import COLUMNS as SIM_COLUMNS

REQUIRED = [c for c in SIM_COLUMNS if c != "fraud_scenario"]  # fraud_scenario is optional
_DAY_NS = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9


def feature_columns(windows: Sequence[int] = (1, 7, 30)) -> list[str]:
    """Names of the columns `add_transaction_features` adds, in output order."""
    cols = ["tx_hour", "tx_is_weekend", "tx_is_night"]
    for w in windows:
        cols += [f"customer_nb_tx_{w}d", f"customer_avg_amount_{w}d"]
    for w in windows:
        cols += [f"terminal_nb_tx_{w}d", f"terminal_risk_{w}d"]
    return cols + ["customer_terminal_distance"]


def add_transaction_features(tx: pd.DataFrame, windows, delay_days: int) -> pd.DataFrame:
    """Return `tx`'s rows (same order, same index) with ids, label, amount and the features.

    Kept columns: tx_id, tx_datetime, customer_id, terminal_id, fraud_scenario (if present),
    is_fraud, tx_amount; then the columns of `feature_columns(windows)`. Coordinates are dropped.
    """
    windows = tuple(int(w) for w in windows)
    delay_days = int(delay_days)
    _check_frame(tx)

    when = pd.to_datetime(tx["tx_datetime"])
    if when.dt.tz is not None:
        local = when.dt.tz_localize(None).to_numpy("datetime64[ns]").view(np.int64)
        t = when.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]").view(np.int64)
    else:
        t = local = when.to_numpy("datetime64[ns]").view(np.int64)
    tx_id = tx["tx_id"].to_numpy()
    amount = tx["tx_amount"].to_numpy(np.float64)
    fraud = tx["is_fraud"].to_numpy(np.int64)

    out: dict[str, np.ndarray] = {}
    for col in ["tx_id", "tx_datetime", "customer_id", "terminal_id", "fraud_scenario", "is_fraud", "tx_amount"]:
        if col in tx.columns:
            out[col] = tx[col].array  # the input's own dtype, no index alignment

    tod = np.mod(local, _DAY_NS)
    out["tx_hour"] = tod / _HOUR_NS
    dow = (np.floor_divide(local, _DAY_NS) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    out["tx_is_weekend"] = (dow >= 5).astype(np.int64)
    out["tx_is_night"] = (tod < 6 * _HOUR_NS).astype(np.int64)

    times = _Times(t)  # time ranks keep the combined keys small and exact

    cust = _Grouped(tx["customer_id"].to_numpy(), t, tx_id, times)
    amount_cs, amount_before = cust.cumsum_float(amount)
    for w in windows:
        start = cust.first_after(t - w * _DAY_NS)  # first row with time > t - w
        count = cust.pos - start + 1
        total = amount_cs[cust.pos] - amount_before[start]
        out[f"customer_nb_tx_{w}d"] = count
        out[f"customer_avg_amount_{w}d"] = total / count

    term = _Grouped(tx["terminal_id"].to_numpy(), t, tx_id, times)
    fraud_cs = np.concatenate([[0], np.cumsum(fraud[term.order])])  # integers: exact
    end_t = t - delay_days * _DAY_NS
    end = np.minimum(term.first_after(end_t), term.pos)  # never the row itself or later rows
    for w in windows:
        start = np.minimum(term.first_after(end_t - w * _DAY_NS), end)
        count = end - start
        frauds = fraud_cs[end] - fraud_cs[start]
        out[f"terminal_nb_tx_{w}d"] = count
        out[f"terminal_risk_{w}d"] = np.divide(frauds, count, out=np.zeros(len(count), np.float64), where=count > 0)

    dx = tx["customer_x"].to_numpy(np.float64) - tx["terminal_x"].to_numpy(np.float64)
    dy = tx["customer_y"].to_numpy(np.float64) - tx["terminal_y"].to_numpy(np.float64)
    out["customer_terminal_distance"] = np.hypot(dx, dy)

    return pd.DataFrame(out, index=tx.index)


class _Times:
    """The distinct timestamps, to turn window bounds into exact small integer ranks."""

    def __init__(self, t: np.ndarray):
        self.order = np.argsort(t, kind="stable")  # cheap when the input is already in time order
        ts = t[self.order]
        keep = np.ones(len(ts), bool)
        keep[1:] = ts[1:] != ts[:-1]
        self.unique = ts[keep]

    def rank(self, t: np.ndarray) -> np.ndarray:
        """Index of each value of `t` (a data time) among the distinct times."""
        return self.rank_right(t) - 1

    def rank_right(self, q: np.ndarray) -> np.ndarray:
        """Number of distinct times <= q, for q = data time - constant (searched in time order)."""
        out = np.empty(len(q), np.int64)
        out[self.order] = np.searchsorted(self.unique, q[self.order], side="right")
        return out


class _Grouped:
    """Rows ordered by (group, time, tx_id), with a sorted combined key for window look-ups."""

    def __init__(self, groups: np.ndarray, t: np.ndarray, tx_id: np.ndarray, times: _Times):
        codes = pd.factorize(groups, sort=False)[0].astype(np.int64)
        self.order = np.lexsort((tx_id, t, codes))
        self.n = len(t)
        self.pos = np.empty(self.n, np.int64)
        self.pos[self.order] = np.arange(self.n, dtype=np.int64)
        self._times = times
        self._k = np.int64(len(times.unique) + 1)
        self._sorted_codes = codes[self.order]
        self.keys = self._sorted_codes * self._k + times.rank(t)[self.order]

    def first_after(self, q: np.ndarray) -> np.ndarray:
        """Sorted position of each row's group's first row with time > q (group end if none).

        `q` is the row's time minus a constant, so the needles are sorted in group order too.
        """
        needles = self._sorted_codes * self._k + self._times.rank_right(q)[self.order]
        out = np.empty(self.n, np.int64)
        out[self.order] = np.searchsorted(self.keys, needles, side="left")
        return out

    def cumsum_float(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-group running sums in sorted order: (inclusive at i, sum before i within its group).

        Sums restart at each group, so a value only depends on the group's own earlier rows.
        """
        xs = pd.Series(x[self.order])
        incl = xs.groupby(self._sorted_codes, sort=False).cumsum().to_numpy(np.float64)
        before = np.zeros(self.n + 1, np.float64)  # index n: a window starting at the very end
        same = np.flatnonzero(self._sorted_codes[1:] == self._sorted_codes[:-1]) + 1
        before[same] = incl[same - 1]
        return incl, before


# -- checks ----------------------------------------------------------------------------------
def _check_frame(tx) -> None:
    if not isinstance(tx, pd.DataFrame):
        raise DataError(f"add_transaction_features needs a pandas DataFrame, got {type(tx).__name__}")
    missing = [c for c in REQUIRED if c not in tx.columns]
    if missing:
        raise DataError(f"transactions lack column(s) {', '.join(missing)}; expected the simulator's columns")
    nulls = [c for c in REQUIRED if tx[c].isna().any()]
    if nulls:
        raise DataError(f"transactions have missing values in {', '.join(nulls)}; drop or fill them first")
    if not tx["is_fraud"].isin([0, 1]).all():
        raise DataError("is_fraud must hold only 0 and 1")
    if not tx["tx_id"].is_unique:
        raise DataError("tx_id must be unique: it orders transactions that share a timestamp")
