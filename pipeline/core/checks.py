"""Declarative value checks, shared by params.yaml validation and generator hyperparameters.

A check is called with a key and a value; it returns the (possibly normalised) value or raises
`Invalid` with a message that names what is expected. `Section` applies a spec of
`name -> (check, default)` to a mapping and *collects* every problem instead of stopping at the
first, so a user sees all of them at once; `validate_all` turns them into one `ConfigError` line.
Each check also lists a few values it rejects (`invalid_examples`), so one contract test can prove
that every declared constraint really is enforced (in the style of imbalanced-learn's
`_parameter_constraints`).
"""

from __future__ import annotations

import codecs
import copy
import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

from pipeline.core.errors import ConfigError

REQUIRED = object()


class Invalid(Exception):
    """One or more problems, each `(key, message)`."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{k}: {m}" for k, m in problems))
        self.problems = problems


def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _got(v: Any) -> str:
    return f"got {_type_name(v)} {v!r}"


class Check:
    """Base class: `check(key, value)` -> value; `invalid_examples()` -> values it must reject."""

    def __call__(self, key: str, value: Any) -> Any:
        return self.check(key, value)

    def check(self, key: str, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def invalid_examples(self) -> list[Any]:
        return []

    @staticmethod
    def fail(key: str, message: str) -> None:
        raise Invalid([(key, message)])


class Int(Check):
    def __init__(self, lo: int | None = None, hi: int | None = None):
        self.lo, self.hi = lo, hi

    def check(self, key, v):
        if isinstance(v, bool) or not isinstance(v, Integral):
            self.fail(key, f"must be an integer, {_got(v)}")
        if self.lo is not None and v < self.lo:
            self.fail(key, f"must be >= {self.lo}, got {v}")
        if self.hi is not None and v > self.hi:
            self.fail(key, f"must be <= {self.hi}, got {v}")
        return int(v)

    def invalid_examples(self):
        out = ["1", 1.5, True]
        if self.lo is not None:
            out.append(self.lo - 1)
        if self.hi is not None:
            out.append(self.hi + 1)
        return out


class Float(Check):
    def __init__(self, lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def check(self, key, v):
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            self.fail(key, f"must be a number, {_got(v)}")
        v = float(v)
        lo_bad = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        hi_bad = self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)
        if lo_bad or hi_bad:
            lb, rb = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            lo = self.lo if self.lo is not None else "-inf"
            hi = self.hi if self.hi is not None else "inf"
            self.fail(key, f"must be in {lb}{lo}, {hi}{rb}, got {v}")
        return v

    def invalid_examples(self):
        out = ["0.5", float("nan"), True]
        if self.lo is not None:
            out.append(self.lo if self.lo_open else self.lo - 1.0)
        if self.hi is not None:
            out.append(self.hi if self.hi_open else self.hi + 1.0)
        return out


class Str(Check):
    def __init__(self, choices: tuple[str, ...] | None = None):
        self.choices = choices

    def _shape(self, key: str, v: Any) -> None:
        if not isinstance(v, str) or not v:
            self.fail(key, f"must be a non-empty string, {_got(v)}")

    def check(self, key, v):
        self._shape(key, v)
        if self.choices and v not in self.choices:
            self.fail(key, f"must be one of {', '.join(repr(c) for c in self.choices)}; got {v!r}")
        return v

    def invalid_examples(self):
        return ["", 3] + (["not-a-choice"] if self.choices else [])


class Char(Str):
    """A single character (CSV separators, decimal marks)."""

    def _shape(self, key: str, v: Any) -> None:
        if not isinstance(v, str) or len(v) != 1:
            self.fail(key, f'must be a single character (write a tab as "\\t"), {_got(v)}')

    def invalid_examples(self):
        return ["ab", 1] + (["#"] if self.choices else [])


class Encoding(Check):
    """A text encoding Python knows."""

    def check(self, key, v):
        Str().check(key, v)
        try:
            codecs.lookup(v)
        except LookupError:
            self.fail(key, f"unknown text encoding {v!r}; use e.g. utf-8, latin-1, cp1252 or utf-16")
        return v

    def invalid_examples(self):
        return ["no-such-encoding", 8]


class Bool(Check):
    def check(self, key, v):
        if not isinstance(v, bool):
            self.fail(key, f"must be true or false, {_got(v)}")
        return v

    def invalid_examples(self):
        return ["yes", 1]


class Optional(Check):
    """`None` or a value `inner` accepts."""

    def __init__(self, inner: Check):
        self.inner = inner

    def check(self, key, v):
        return None if v is None else self.inner.check(key, v)

    def invalid_examples(self):
        return self.inner.invalid_examples()


class ListOf(Check):
    def __init__(self, item: Check, min_len: int = 0, unique: bool = False):
        self.item, self.min_len, self.unique = item, min_len, unique

    def check(self, key, v):
        if not isinstance(v, (list, tuple)):
            self.fail(key, f"must be a list, {_got(v)}")
        if len(v) < self.min_len:
            self.fail(key, f"must have at least {self.min_len} item(s)")
        problems: list[tuple[str, str]] = []
        out = []
        for i, x in enumerate(v):
            try:
                out.append(self.item.check(f"{key}[{i}]", x))
            except Invalid as e:
                problems += e.problems
        if problems:
            raise Invalid(problems)
        if self.unique:
            seen = [repr(x) for x in out]
            twice = sorted({x for x in seen if seen.count(x) > 1})
            if twice:
                self.fail(key, f"lists {', '.join(twice)} more than once; list each value once")
        return type(v)(out) if isinstance(v, tuple) else out

    def invalid_examples(self):
        bad_items = [[x] for x in self.item.invalid_examples()[:1]]
        return ["not-a-list"] + ([[]] if self.min_len else []) + bad_items


class MappingOf(Check):
    """A mapping of non-empty string keys to values `value` accepts."""

    def __init__(self, value: Check):
        self.value = value

    def check(self, key, v):
        if not isinstance(v, dict):
            self.fail(key, f"must be a mapping, {_got(v)}")
        problems: list[tuple[str, str]] = []
        out = {}
        for k, x in v.items():
            if not isinstance(k, str) or not k:
                problems.append((key, f"keys must be non-empty strings, got {k!r}"))
                continue
            try:
                out[k] = self.value.check(f"{key}.{k}", x)
            except Invalid as e:
                problems += e.problems
        if problems:
            raise Invalid(problems)
        return out

    def invalid_examples(self):
        return [["a"]] + [{"col": x} for x in self.value.invalid_examples()[:1]]


class Section(Check):
    """A mapping with known keys: `spec` maps name -> (check, default or REQUIRED). Unknown keys are errors;
    missing keys take their default; every problem in the section is collected before raising."""

    def __init__(self, spec: dict[str, tuple[Check | Callable, Any]]):
        self.spec = spec

    def check(self, key, v):
        if v is None:
            v = {}
        if not isinstance(v, dict):
            self.fail(key, f"must be a mapping, got {_type_name(v)}")
        problems: list[tuple[str, str]] = []
        for name in v:
            if name not in self.spec:
                problems.append(
                    (f"{key}.{name}" if key else str(name), f"unknown key; valid keys: {', '.join(self.spec)}")
                )
        out = {}
        for name, (check, default) in self.spec.items():
            sub = f"{key}.{name}" if key else name
            try:
                if name in v:
                    out[name] = check(sub, v[name])
                elif default is REQUIRED:
                    problems.append((sub, "is required"))
                elif isinstance(check, Section):
                    out[name] = check(sub, copy.deepcopy(default))
                else:
                    out[name] = copy.deepcopy(default)
            except Invalid as e:
                problems += e.problems
        if problems:
            raise Invalid(problems)
        return out

    def defaults(self) -> dict[str, Any]:
        """Every key with its default (sections filled in); REQUIRED keys are left out."""
        out = {}
        for name, (check, default) in self.spec.items():
            if default is REQUIRED:
                continue
            out[name] = check.defaults() if isinstance(check, Section) else copy.deepcopy(default)
        return out


def validate_all(check: Check, value: Any, where: str, key: str = "") -> Any:
    """Apply `check`; every problem found becomes part of one ConfigError line prefixed with `where`."""
    try:
        return check(key, value)
    except Invalid as e:
        raise ConfigError(f"{where}: " + "; ".join(f"{k}: {m}" if k else m for k, m in e.problems)) from None
