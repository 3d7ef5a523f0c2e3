"""A card-transaction simulator with labelled fraud, in the spirit of the Fraud Detection Handbook.

Written for this project after the simulator described by Le Borgne et al. (*Reproducible
Machine Learning for Credit Card Fraud Detection - Practical Handbook*), vectorised with numpy.

The world (customers, terminals, neighbourhoods) depends on the seed and the world sizes only.
Time is counted in absolute days from `start_date`; a call simulates the window
``[day_offset, day_offset + n_days)``. Every random draw that concerns an absolute day comes from
a generator seeded with ``(seed, stream, day)``, and fraud events that start before the window
(up to 28 days) are replayed, so the transactions of a day are identical whatever window holds it:
moving `day_offset` forward gives the "next months" of the same world (retraining uses this).

Fraud scenarios (`fraud_scenario`; a row keeps the first scenario that made it fraud):

1. Unusually large amounts: any transaction above 220 is fraud (easy to learn).
2. Compromised terminals: each day a few random terminals are compromised; every transaction
   there on that day and the next 27 days is fraud.
3. Compromised cards: each day a few customers are compromised; during the next 14 days about
   one third of their transactions are fraud, with the amount multiplied by 5.
4. A new attack variant, rare at first and more common as the absolute day grows: bursts of 3-6
   small (1..15) transactions at night (01:00-05:00, within one hour) on a terminal far from the
   customer's home. These are extra rows, fraud by construction.

With the default arguments the fraud rate is about 0.7%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.errors import ConfigError

COLUMNS = [
    "tx_id",
    "tx_datetime",
    "customer_id",
    "terminal_id",
    "tx_amount",
    "customer_x",
    "customer_y",
    "terminal_x",
    "terminal_y",
    "fraud_scenario",
    "is_fraud",
]

# -- world ---------------------------------------------------------------------------------
AREA = 100.0  # customers and terminals live in [0, AREA]^2
MEAN_AMOUNT_RANGE = (5.0, 100.0)
MEAN_NB_TX_PER_DAY_MAX = 4.0

# -- days ----------------------------------------------------------------------------------
SECONDS_PER_DAY = 86_400
TIME_MEAN_S = 12 * 3600  # noon
TIME_SD_S = 5 * 3600
TX_ID_STRIDE = 10**8  # tx_id = absolute_day * TX_ID_STRIDE + rank within the day
MAX_CUSTOMERS = 5_000_000  # keeps a day's rows far below TX_ID_STRIDE

# -- fraud scenarios -----------------------------------------------------------------------
SC1_AMOUNT = 220.0
SC2_TERMINALS_PER_DAY = 1.25e-4  # x n_terminals: expected terminals compromised per day
SC2_DAYS = 28
SC3_CUSTOMERS_PER_DAY = 6e-4  # x n_customers: expected cards compromised per day
SC3_DAYS = 14
SC3_SHARE = 1 / 3
SC3_AMOUNT_FACTOR = 5.0
SC4_BURSTS_PER_DAY = 3e-3  # x n_customers, at full strength
SC4_RAMP_DAYS = 240  # strength = min(1, (absolute_day + 1) / SC4_RAMP_DAYS) ** 2
SC4_BURST_SIZE = (3, 6)
SC4_AMOUNT = (1.0, 15.0)
SC4_START_S = (1 * 3600, 4 * 3600)  # first transaction of a burst, then all within one hour
SC4_FAR = 25.0  # "far from home": at least max(SC4_FAR, 2 * radius) away
SC4_CANDIDATES = 8
EVENT_LOOKBACK = max(SC2_DAYS, SC3_DAYS + 1)

# RNG streams: every generator is np.random.default_rng([seed, stream, key])
_S_CUSTOMERS, _S_TERMINALS, _S_DAY, _S_EVENTS, _S_SC4 = 0, 1, 2, 3, 4
_DAY_KEY_SHIFT = 1_000  # event days before the window can be negative; seed keys must not be
_NEVER = -(10**9)

_NEIGHBOUR_CHUNK = 512


def simulate_transactions(
    *,
    n_customers: int,
    n_terminals: int,
    n_days: int,
    start_date: str,
    day_offset: int,
    radius: float,
    seed: int,
) -> pd.DataFrame:
    """Simulate the transactions of absolute days ``[day_offset, day_offset + n_days)``.

    Returns one row per transaction, sorted by time (then tx_id), with the columns of `COLUMNS`.
    The arguments are the validated `data.simulate` params (defaults and checks: `pipeline.config.params`).
    `tx_id` is ``absolute_day * 10**8 + rank within the day``: stable across windows.
    """
    radius = float(radius)
    start = pd.Timestamp(start_date).as_unit("ns")

    world = _World(n_customers, n_terminals, radius, seed)

    # Fraud-event state replayed from EVENT_LOOKBACK days before the window.
    last_term_event = np.full(n_terminals, _NEVER, dtype=np.int64)  # latest event day <= d
    last_cust_event = np.full(n_customers, _NEVER, dtype=np.int64)  # latest event day < d
    first = day_offset - EVENT_LOOKBACK
    for e in range(first, day_offset):
        terms, custs = _events(world, seed, e)
        last_term_event[terms] = e
        last_cust_event[custs] = e

    parts: list[dict[str, np.ndarray]] = []
    for d in range(day_offset, day_offset + n_days):
        terms, custs = _events(world, seed, d)
        last_term_event[terms] = d  # terminals are compromised from the event day on
        parts.append(_simulate_day(world, seed, d, last_term_event, last_cust_event))
        last_cust_event[custs] = d  # cards are compromised from the day after the event

    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ns = (
        np.int64(start.value)
        + cols["day"].astype(np.int64) * np.int64(SECONDS_PER_DAY * 10**9)
        + cols["secs"].astype(np.int64) * np.int64(10**9)
    )
    cust, term = cols["customer_id"], cols["terminal_id"]
    sc = cols["fraud_scenario"]
    return pd.DataFrame(
        {
            "tx_id": cols["tx_id"].astype(np.int64),
            "tx_datetime": ns.view("datetime64[ns]"),
            "customer_id": cust.astype(np.int64),
            "terminal_id": term.astype(np.int64),
            "tx_amount": cols["tx_amount"].astype(np.float64),
            "customer_x": world.cust_xy[cust, 0],
            "customer_y": world.cust_xy[cust, 1],
            "terminal_x": world.term_xy[term, 0],
            "terminal_y": world.term_xy[term, 1],
            "fraud_scenario": sc.astype(np.int64),
            "is_fraud": (sc > 0).astype(np.int64),
        },
        columns=COLUMNS,
    )


# -- world -------------------------------------------------------------------------------------
class _World:
    def __init__(self, n_customers: int, n_terminals: int, radius: float, seed: int):
        self.n_customers, self.n_terminals, self.radius = n_customers, n_terminals, radius
        rng = np.random.default_rng([seed, _S_CUSTOMERS, 0])
        self.cust_xy = rng.uniform(0.0, AREA, (n_customers, 2))
        self.mean_amount = rng.uniform(*MEAN_AMOUNT_RANGE, n_customers)
        self.std_amount = self.mean_amount / 2
        self.mean_nb_tx = rng.uniform(0.0, MEAN_NB_TX_PER_DAY_MAX, n_customers)
        rng = np.random.default_rng([seed, _S_TERMINALS, 0])
        self.term_xy = rng.uniform(0.0, AREA, (n_terminals, 2))
        self.nb_ptr, self.nb_idx = _neighbourhoods(self.cust_xy, self.term_xy, radius)
        self.nb_count = np.diff(self.nb_ptr)


def _neighbourhoods(cust_xy: np.ndarray, term_xy: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """CSR lists of the terminals within `radius` of each customer (nearest one if none).

    Customers are processed in chunks sorted by x; each chunk only looks at the band of
    terminals whose x is within `radius` of the chunk, so memory stays at chunk x band.
    """
    n_c, n_t = len(cust_xy), len(term_xy)
    r2 = radius * radius
    t_order = np.argsort(term_xy[:, 0], kind="stable")
    t_x = term_xy[t_order, 0]
    t_y = term_xy[t_order, 1]
    c_order = np.argsort(cust_xy[:, 0], kind="stable")
    rows, cols = [], []
    for lo in range(0, n_c, _NEIGHBOUR_CHUNK):
        cs = c_order[lo : lo + _NEIGHBOUR_CHUNK]
        cx, cy = cust_xy[cs, 0], cust_xy[cs, 1]
        a = np.searchsorted(t_x, cx.min() - radius, side="left")
        b = np.searchsorted(t_x, cx.max() + radius, side="right")
        if a >= b:
            continue
        d2 = (cx[:, None] - t_x[None, a:b]) ** 2 + (cy[:, None] - t_y[None, a:b]) ** 2
        i, j = np.nonzero(d2 <= r2)
        rows.append(cs[i])
        cols.append(t_order[a + j])
    row = np.concatenate(rows) if rows else np.empty(0, np.int64)
    col = np.concatenate(cols) if cols else np.empty(0, np.int64)

    # Customers without a terminal in range use their nearest terminal.
    lonely = np.setdiff1d(np.arange(n_c), row)
    if len(lonely):
        chunk = max(1, 2_000_000 // n_t)
        nearest = np.empty(len(lonely), np.int64)
        for lo in range(0, len(lonely), chunk):
            cs = lonely[lo : lo + chunk]
            d2 = ((cust_xy[cs, None, :] - term_xy[None, :, :]) ** 2).sum(axis=2)
            nearest[lo : lo + chunk] = d2.argmin(axis=1)
        row = np.concatenate([row, lonely])
        col = np.concatenate([col, nearest])

    order = np.lexsort((col, row))  # canonical: by customer, then terminal id
    row, col = row[order], col[order]
    ptr = np.zeros(n_c + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=n_c), out=ptr[1:])
    return ptr, col.astype(np.int64)


# -- days --------------------------------------------------------------------------------------
def _rng(seed: int, stream: int, day: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, day + _DAY_KEY_SHIFT])


def _events(world: _World, seed: int, day: int) -> tuple[np.ndarray, np.ndarray]:
    """Terminals (scenario 2) and customers (scenario 3) compromised on absolute `day`."""
    rng = _rng(seed, _S_EVENTS, day)
    n_t = min(rng.poisson(SC2_TERMINALS_PER_DAY * world.n_terminals), world.n_terminals)
    terms = rng.choice(world.n_terminals, size=n_t, replace=False)
    n_c = min(rng.poisson(SC3_CUSTOMERS_PER_DAY * world.n_customers), world.n_customers)
    custs = rng.choice(world.n_customers, size=n_c, replace=False)
    return terms, custs


def sc4_strength(day: int | np.ndarray) -> float | np.ndarray:
    """Relative frequency (0..1] of scenario 4 on an absolute day: grows quadratically, then flat."""
    return np.minimum(1.0, (np.asarray(day, dtype=np.float64) + 1) / SC4_RAMP_DAYS) ** 2


def _simulate_day(
    world: _World, seed: int, d: int, last_term_event: np.ndarray, last_cust_event: np.ndarray
) -> dict[str, np.ndarray]:
    rng = _rng(seed, _S_DAY, d)
    counts = rng.poisson(world.mean_nb_tx)
    n = int(counts.sum())
    cust = np.repeat(np.arange(world.n_customers, dtype=np.int64), counts)

    secs = rng.normal(TIME_MEAN_S, TIME_SD_S, n)
    bad = np.flatnonzero((secs < 0) | (secs >= SECONDS_PER_DAY))
    while len(bad):  # redraw times outside the day
        secs[bad] = rng.normal(TIME_MEAN_S, TIME_SD_S, len(bad))
        bad = bad[(secs[bad] < 0) | (secs[bad] >= SECONDS_PER_DAY)]
    secs = secs.astype(np.int64)

    mean = world.mean_amount[cust]
    amount = rng.normal(mean, world.std_amount[cust])
    neg = np.flatnonzero(amount < 0)
    amount[neg] = rng.uniform(0.0, 2 * mean[neg])

    pick = (rng.random(n) * world.nb_count[cust]).astype(np.int64)
    term = world.nb_idx[world.nb_ptr[cust] + pick]
    u3 = rng.random(n)

    amount = np.maximum(np.round(amount, 2), 0.01)
    sc = np.zeros(n, np.int64)
    sc[amount > SC1_AMOUNT] = 1
    sc[(sc == 0) & (d - last_term_event[term] < SC2_DAYS)] = 2
    s3 = (sc == 0) & (d - last_cust_event[cust] <= SC3_DAYS) & (u3 < SC3_SHARE)
    sc[s3] = 3
    amount[s3] = np.round(amount[s3] * SC3_AMOUNT_FACTOR, 2)

    b_cust, b_term, b_secs, b_amount = _sc4_bursts(world, seed, d)
    cust = np.concatenate([cust, b_cust])
    term = np.concatenate([term, b_term])
    secs = np.concatenate([secs, b_secs])
    amount = np.concatenate([amount, b_amount])
    sc = np.concatenate([sc, np.full(len(b_cust), 4, np.int64)])

    order = np.lexsort((np.arange(len(cust)), cust, secs))
    m = len(order)
    if m >= TX_ID_STRIDE:
        raise ConfigError(f"too many transactions on one day ({m}); lower n_customers")
    return {
        "tx_id": np.int64(d) * TX_ID_STRIDE + np.arange(m, dtype=np.int64),
        "day": np.full(m, d, np.int64),
        "secs": secs[order],
        "customer_id": cust[order],
        "terminal_id": term[order],
        "tx_amount": amount[order],
        "fraud_scenario": sc[order],
    }


def _sc4_bursts(world: _World, seed: int, d: int) -> tuple[np.ndarray, ...]:
    rng = _rng(seed, _S_SC4, d)
    nb = int(rng.poisson(SC4_BURSTS_PER_DAY * world.n_customers * sc4_strength(d)))
    victims = rng.integers(0, world.n_customers, nb)
    sizes = rng.integers(SC4_BURST_SIZE[0], SC4_BURST_SIZE[1] + 1, nb)
    starts = rng.integers(SC4_START_S[0], SC4_START_S[1], nb)
    cand = rng.integers(0, world.n_terminals, (nb, SC4_CANDIDATES))
    dist = np.linalg.norm(world.term_xy[cand] - world.cust_xy[victims][:, None, :], axis=2)
    far = dist >= max(SC4_FAR, 2 * world.radius)
    choice = np.where(far.any(axis=1), far.argmax(axis=1), dist.argmax(axis=1))
    terms = cand[np.arange(nb), choice]
    total = int(sizes.sum())
    offsets = rng.integers(0, 3600, total)
    amounts = np.round(rng.uniform(*SC4_AMOUNT, total), 2)
    return (
        np.repeat(victims, sizes).astype(np.int64),
        np.repeat(terms, sizes).astype(np.int64),
        (np.repeat(starts, sizes) + offsets).astype(np.int64),
        amounts,
    )
