"""Numbers written as text, one component of the input contract (`pipeline.data.contract`).

Exports write numbers in many ways: grouping marks (`1,234.50`, `1.234,56`, `1 234,56`, `1'234.50`),
currency symbols and codes before or after the number (`€19.15`, `19,15 €`, `CHF 12.50`), percent
signs (`1.25%`), accounting negatives (`(19.18)`), leading or trailing signs (`-3`, `+12`, `12.50-`).
`read_numbers` decides ONE format per column from the WHOLE column, never value by value:

* a mark (`.` or `,`) that occurs once as the last mark with 1, 2 or 4+ digits after it, or after a
  group that cannot be a thousands group (`0,125`, `1234.5`), is a **decimal** mark; a mark that occurs
  twice in a value or before the other mark (`1.234.567`, `1,234.50`) **groups** thousands; a space,
  no-break space or apostrophe always groups;
* `data.csv.decimal` / `data.csv.thousands` fix a mark when declared; otherwise the evidence of the distinct
  values decides by majority (a mark proven both ways as often is an error), and values that do not fit
  the decided format are strays;
* a mark with no evidence either way (every value like `1,979` or `1.234`) is **ambiguous**: an error
  naming the column, two examples and `data.csv.thousands`, which decides it. A magnitude never
  changes silently;
* percentages keep the number as written (`1.25%` -> 1.25; the unit is recorded in profile.json);
  a column that mixes percentages with plain numbers, or two currencies, is an error.

Values that do not fit the column's format are not numbers (NaN here); the contract treats them as
stray strings (an error, or missing values with `data.coerce_numeric`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError

#: grouping marks accepted in data.csv.thousands
THOUSANDS = (",", ".", " ", "'")
CURRENCY_CODES = (
    "EUR",
    "USD",
    "GBP",
    "JPY",
    "CHF",
    "CAD",
    "AUD",
    "NZD",
    "CNY",
    "HKD",
    "SGD",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HUF",
    "INR",
    "BRL",
    "MXN",
    "ZAR",
    "RUB",
    "TRY",
    "KRW",
    "ILS",
    "RON",
    "BGN",
)
_SYMBOLS = {"€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₽": "RUB", "₩": "KRW", "₺": "TRY", "$": "$"}
_CUR = "(?:" + "|".join(CURRENCY_CODES) + r"|[€£¥₹₽₩₺$₪₴₦฿₫]|US\$|A\$|C\$|R\$|zł|kr|Kč|Ft|Fr\.)"
_SIGN = "[-+\u2212]"
_CORE = r"(?:\d(?:[\d.,'\u2019\u00a0\u202f ]*\d)?|[.,]\d+)"
_VALUE = re.compile(
    rf"^(?P<s1>{_SIGN})?\s*(?P<open>\()?\s*(?P<s2>{_SIGN})?\s*(?P<c1>{_CUR})?\s*(?P<open2>\()?\s*(?P<s3>{_SIGN})?\s*"
    rf"(?P<core>{_CORE})(?P<exp>[eE][-+]?\d+)?\s*(?P<pct>%)?\s*(?P<close2>\))?\s*(?P<c2>{_CUR})?\s*(?P<close>\))?\s*"
    rf"(?P<s4>[-\u2212])?$"
)
_SPECIAL = {
    "nan": np.nan,
    "inf": np.inf,
    "+inf": np.inf,
    "-inf": -np.inf,
    "infinity": np.inf,
    "+infinity": np.inf,
    "-infinity": -np.inf,
}
_MARK = re.compile(r"([.,'\u2019\u00a0\u202f ])")
_NORMAL = {"\u2019": "'", "\u00a0": " ", "\u202f": " "}
#: a plain number as pandas' CSV reader reads it (decimal point, no grouping)
PLAIN = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?i:inf|infinity|nan)"
#: a plain number that could also be a whole number with a thousands dot (1.234)
_DOT_GROUPED = r"[+-]?[1-9]\d{0,2}\.\d{3}"


@dataclass
class Parsed:
    """One value: sign, digit groups and marks between them, exponent, percent, currency."""

    negative: bool
    groups: list[str]
    marks: list[str]
    exp: str = ""
    percent: bool = False
    currency: str | None = None
    parens: bool = False


@dataclass
class NumberFormat:
    """The format decided for one column (recorded in profile.json when anything was not plain)."""

    decimal: str | None = None
    grouping: str | None = None
    currency: str | None = None
    percent: bool = False
    parentheses: bool = False
    trailing_minus: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    def is_plain(self) -> bool:
        return (
            self.decimal in (None, ".")
            and self.grouping is None
            and self.currency is None
            and not self.percent
            and not self.parentheses
            and not self.trailing_minus
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.decimal:
            out["decimal"] = self.decimal
        if self.grouping:
            out["grouping"] = self.grouping
        if self.currency:
            out["currency"] = self.currency
        if self.percent:
            out["unit"] = "percent (kept as written: 1.25% -> 1.25)"
        if self.parentheses:
            out["negatives"] = "(parentheses)"
        if self.trailing_minus:
            out["negatives"] = "trailing minus"
        return out


def _parse(text: str) -> Parsed | float | None:
    low = text.lower()
    if low in _SPECIAL:
        return _SPECIAL[low]
    m = _VALUE.match(text)
    if not m:
        return None
    g = m.groupdict()
    signs = [g[k] for k in ("s1", "s2", "s3", "s4") if g[k]]
    g["open"] = (g["open"] or "") + (g["open2"] or "")
    g["close"] = (g["close"] or "") + (g["close2"] or "")
    if len(g["open"]) != len(g["close"]) or len(g["open"]) > 1 or len(signs) + bool(g["open"]) > 1:
        return None
    if g["c1"] and g["c2"]:
        return None
    if g["pct"] and (g["c1"] or g["c2"]):
        return None
    cur = g["c1"] or g["c2"]
    parts = _MARK.split(g["core"])
    groups, marks = parts[0::2], [_NORMAL.get(c, c) for c in parts[1::2]]
    if any(not grp for grp in groups[1:]):  # two marks in a row
        return None
    negative = bool(g["open"]) or any(s in "-\u2212" for s in signs)
    return Parsed(
        negative=negative,
        groups=groups,
        marks=marks,
        exp=g["exp"] or "",
        percent=bool(g["pct"]),
        currency=_SYMBOLS.get(cur, cur) if cur else None,
        parens=bool(g["open"]),
    )


def _groups_ok(groups: list[str]) -> bool:
    """Digit groups that can be thousands groups: the first 1-3 digits (not a lone leading 0), the rest 3."""
    first = groups[0]
    return 1 <= len(first) <= 3 and not (first.startswith("0")) and all(len(x) == 3 for x in groups[1:])


def _evidence(p: Parsed) -> tuple[set[str], set[str]]:
    """(marks this value proves decimal, marks it proves grouping)."""
    dec: set[str] = set()
    grp: set[str] = set()
    marks = p.marks
    if not marks:
        return dec, grp
    for m in set(marks):
        if m in (" ", "'"):
            grp.add(m)
        elif marks.count(m) > 1 or marks.index(m) < len(marks) - 1 and marks[-1] != m:
            grp.add(m)
    last = marks[-1]
    if last in (".", ",") and marks.count(last) == 1 and any(m != last for m in marks[:-1]):
        dec.add(last)  # the last of two different marks: 1.234,56 or 1 234,56
    elif last in (".", ",") and marks.count(last) == 1:
        integer = p.groups[:-1]
        if len(p.groups[-1]) != 3 or not integer[0] or not _groups_ok(integer + [p.groups[-1]]):
            dec.add(last)
    return dec, grp


def _examples(texts, k: int = 2) -> str:
    return ", ".join(repr(t[:30]) for t in list(dict.fromkeys(texts))[:k])


def _value(p: Parsed, decimal: str | None, grouping: set[str]) -> float:
    marks, groups = p.marks, p.groups
    frac = ""
    if decimal is not None and marks and marks[-1] == decimal:
        frac, groups, marks = groups[-1], groups[:-1], marks[:-1]
    if marks:
        if any(m not in grouping for m in marks) or len(set(marks)) > 1 or not _groups_ok(groups):
            return np.nan
    digits = "".join(groups) or "0"
    x = float(f"{digits}.{frac or '0'}{p.exp}")
    return -x if p.negative else x


@dataclass
class NumberReading:
    """How a column's text is read as numbers: the format decided from the whole column and the grouping marks
    it accepts. `values` applies it to any part of the column (a partition), value by value."""

    format: NumberFormat
    grouping: set[str]

    def values(self, text: pd.Series) -> pd.Series:
        """Float values of stripped, non-blank text on the same index; NaN where a value does not fit the format."""
        uniq = pd.unique(text.to_numpy(dtype=object))
        lookup = {}
        for u in uniq:
            p = _parse(u)
            lookup[u] = p if isinstance(p, float) else _value(p, self.format.decimal, self.grouping) if p else np.nan
        return text.map(lookup).astype("float64")


def value_counts(text: pd.Series) -> pd.Series:
    """{distinct value: rows} of stripped, non-blank text, in the order values first appear: what `decide_numbers`
    decides on. Counts of a table's partitions add up (`add_counts`) to the counts of the whole column."""
    return text.value_counts(sort=False, dropna=True)


def add_counts(a: pd.Series, b: pd.Series) -> pd.Series:
    """Counts of two consecutive parts of a column: first-appearance order kept (a's values first)."""
    if a.empty:
        return b
    if b.empty:
        return a
    return pd.concat([a, b]).groupby(level=0, sort=False).sum()


def read_numbers(
    text: pd.Series, name: str, decimal: str | None = None, thousands: str | None = None, min_share: float = 0.0
) -> tuple[pd.Series, NumberFormat | None]:
    """Read a text column as numbers in ONE format decided from the whole column (`decide_numbers` on its value
    counts, then `NumberReading.values`). Returns (float values on the same index, NaN where a value is not a number
    in that format; the format) - or (all NaN, None) when fewer than `min_share` of the values look like numbers."""
    reading = decide_numbers(value_counts(text), name, decimal, thousands, min_share)
    if reading is None:
        return pd.Series(np.nan, index=text.index, dtype="float64"), None
    return reading.values(text), reading.format


def decide_numbers(
    counts: pd.Series, name: str, decimal: str | None = None, thousands: str | None = None, min_share: float = 0.0
) -> NumberReading | None:
    """The ONE number format of a text column, decided from its value counts (`value_counts`: the column's
    present, stripped, non-blank values and how often each occurs, of the whole column or summed over its
    partitions). None when fewer than `min_share` of the values look like numbers at all (the column is text,
    nothing is decided). Raises `DataError` (one line) when a mark could be read either way and no evidence or
    setting decides it, when the evidence is split evenly, or for two currencies or percentages mixed with
    plain numbers.
    """
    parsed = {u: _parse(u) for u in counts.index}
    total = int(counts.sum())
    looks = sum(int(counts[u]) for u, p in parsed.items() if p is not None)
    if not total or looks / total < min_share:
        return None
    values = {u: p for u, p in parsed.items() if isinstance(p, Parsed)}
    proves_dec: dict[str, list[str]] = {".": [], ",": []}
    proves_grp: dict[str, list[str]] = {".": [], ",": [], " ": [], "'": []}
    seen: dict[str, list[str]] = {}
    for u, p in values.items():
        dec, grp = _evidence(p)
        for m in dec:
            proves_dec[m].append(u)
        for m in grp:
            proves_grp[m].append(u)
        for m in set(p.marks):
            seen.setdefault(m, []).append(u)
    fmt = NumberFormat()
    where = f"column {name!r}"
    other = {".": ",", ",": "."}
    role: dict[str, str] = {}
    if decimal is not None:  # the other mark can only group; the declared one is decimal where values show it
        role[other[decimal]] = "group"
        if proves_dec[decimal] or (thousands is not None and thousands != decimal):
            role[decimal] = "decimal"
    elif thousands in (".", ","):
        role[thousands], role[other[thousands]] = "group", "decimal"
    # evidence decides the rest by majority of distinct values; values against it become strays
    votes: dict[str, tuple[int, int]] = {
        m: (len(proves_dec[m]), len(proves_grp[m])) for m in (".", ",") if m not in role and m in seen
    }
    for m, (d, g) in votes.items():
        if d and g and d == g:
            raise DataError(
                f"{where} uses {m!r} both as a decimal mark (e.g. {_examples(proves_dec[m], 1)}) and to "
                f"group thousands (e.g. {_examples(proves_grp[m], 1)}); set data.csv.thousands (or "
                "data.csv.decimal) or fix the file so the column has one number format"
            )
    decided: dict[str, str] = {m: ("decimal" if d > g else "group") for m, (d, g) in votes.items() if d or g}
    if list(decided.values()).count("decimal") == 2:
        loser = min(decided, key=lambda m: votes[m][0])
        decided[loser] = "group"
    role.update(decided)
    for m in (".", ","):  # a decided role decides the other mark
        if m in role and m in seen and other[m] in seen and other[m] not in role:
            role[other[m]] = "group" if role[m] == "decimal" else "decimal"
    if thousands is not None:
        for m in (".", ","):
            if m in seen and m not in role:
                role[m] = "group" if m == thousands else "decimal"
    for m in (".", ","):
        if m in seen and m not in role:
            ex = [u for u in seen[m]]
            grouped = [_value(values[u], None, {m}) for u in ex[:1]]
            as_dec = [_value(values[u], m, set()) for u in ex[:1]]
            keep = "." if m == "," else ","
            raise DataError(
                f"{where}: values such as {_examples(ex)} could use {m!r} as a decimal mark "
                f"({ex[0]!r} = {as_dec[0]:g}) "
                f"or to group thousands ({ex[0]!r} = {grouped[0]:g}), and no value decides it; set "
                f"data.csv.thousands: {m!r} if it groups thousands, or data.csv.thousands: {keep!r} if {m!r} is the "
                "decimal mark here (or list the column in data.categorical_columns if it is a code)"
            )
    fmt.decimal = next((m for m in (".", ",") if role.get(m) == "decimal"), None)
    grouping = {m for m in (".", ",") if role.get(m) == "group"} | ({" ", "'"} & set(seen))
    if len(grouping & set(seen)) > 1:
        marks = sorted(grouping & set(seen))
        raise DataError(
            f"{where} groups thousands with different marks ({', '.join(map(repr, marks))}, e.g. "
            f"{_examples([seen[m][0] for m in marks])}); fix the file so the column has one number format"
        )
    fmt.grouping = next(iter(grouping & set(seen)), None)
    currencies = sorted({p.currency for p in values.values() if p.currency})
    if len(currencies) > 1:
        ex = [next(u for u, p in values.items() if p.currency == c) for c in currencies]
        raise DataError(
            f"{where} mixes currencies ({', '.join(currencies)}; e.g. {_examples(ex)}); amounts in "
            "different currencies are different units: convert them to one currency in the file, or "
            "split the column"
        )
    fmt.currency = currencies[0] if currencies else None
    pct = [u for u, p in values.items() if p.percent]
    if pct and len(pct) < len(values):
        plain = [u for u, p in values.items() if not p.percent]
        raise DataError(
            f"{where} mixes percentages and plain numbers (e.g. {_examples([pct[0], plain[0]])}); "
            "write the column in one unit"
        )
    fmt.percent = bool(pct)
    fmt.parentheses = any(p.parens for p in values.values())
    fmt.trailing_minus = any(
        p.negative and not p.parens and u.rstrip().endswith(("-", "\u2212")) for u, p in values.items()
    )
    return NumberReading(fmt, grouping)


#: a whole number pandas reads as int64
_INT = r"[+-]?\d{1,18}"


def plain_facts(raw: pd.Series) -> dict[str, Any]:
    """What `plain_type` decides a CSV column read as text on; adds up over partitions (`merge_plain_facts`)."""
    text = raw.dropna().str.strip()
    dotted = text.str.contains(".", regex=False)
    return {
        "present": len(text),
        "missing": bool(raw.isna().any()),
        "plain": bool(text.str.fullmatch(PLAIN).all()),
        "dotted": bool(dotted.any()),
        "dot_grouped": bool(text[dotted].str.fullmatch(_DOT_GROUPED).all()),
        "ints": bool(text.str.fullmatch(_INT).all()),
    }


def merge_plain_facts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "present": a["present"] + b["present"],
        "missing": a["missing"] or b["missing"],
        "plain": a["plain"] and b["plain"],
        "dotted": a["dotted"] or b["dotted"],
        # every dotted value could be grouped: vacuously true where a part has none
        "dot_grouped": a["dot_grouped"] and b["dot_grouped"],
        "ints": a["ints"] and b["ints"],
    }


def plain_type(facts: dict[str, Any], decimal: str | None, thousands: str | None) -> str | None:
    """ "int64" or "float64" when every present value of a CSV column read as text is a plain number that pandas'
    reader would read the same way and no reading could change its magnitude; None otherwise (the column stays
    text and the contract decides it with `decide_numbers`)."""
    if not facts["present"] or not facts["plain"]:
        return None
    if facts["dotted"]:
        if decimal == "," or thousands == ".":
            return None
        if thousands is None and facts["dot_grouped"]:
            return None  # every dotted value could be a whole number with a thousands dot: the contract decides
    return "int64" if facts["ints"] and not facts["missing"] else "float64"


def plain_numbers(raw: pd.Series, dtype: str) -> pd.Series:
    """A CSV column read as text -> numbers of the `plain_type` decided for the whole column."""
    return pd.to_numeric(raw.str.strip()).astype(dtype)  # type: ignore[call-overload]  # a dtype's name
