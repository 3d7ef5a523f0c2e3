"""Checks of `params.yaml` values that `pipeline.core.checks` does not have, each with the examples it rejects:
a date, a fraud segment, a number of seed frauds, segment weights, a Dask scheduler and memory size, the
`generators` section (every entry builds a generator) and a red-team tactic. `pipeline.config.params.SPEC` uses
them."""

from __future__ import annotations

import pandas as pd

from pipeline.core.checks import Check, Float, Int, Invalid, ListOf, Str
from pipeline.core.errors import ConfigError


class Date(Check):
    """A plain calendar date such as 2025-01-01 (no time, no zone)."""

    def check(self, key, v):
        Str().check(key, v)
        try:
            ts = pd.Timestamp(v)
        except (TypeError, ValueError):
            self.fail(key, f"must be a date like 2025-01-01, got {v!r}")
        if pd.isna(ts):
            self.fail(key, f"must be a date like 2025-01-01, got {v!r}")
        if ts.tzinfo is not None or ts != ts.normalize():
            self.fail(key, f"must be a plain date like 2025-01-01 (no time or zone), got {v!r}")
        return v

    def invalid_examples(self):
        return ["not a date", "2025-01-01 10:30", 20250101]


class SegmentSpec(Check):
    """A column name, or {column: name, bins: [increasing edges]} for a numeric column."""

    def check(self, key, v):
        if isinstance(v, str) and v:
            return v
        if not isinstance(v, dict) or set(v) != {"column", "bins"}:
            self.fail(key, f"must be a column name or {{column: name, bins: [edges]}}, got {v!r}")
        Str().check(f"{key}.column", v["column"])
        bins = ListOf(Float(), min_len=2).check(f"{key}.bins", v["bins"])
        if any(a >= b for a, b in zip(bins, bins[1:])):
            self.fail(f"{key}.bins", f"must increase, got {bins}")
        return {"column": v["column"], "bins": bins}

    def invalid_examples(self):
        return ["", 3, {"column": "x"}, {"column": "x", "bins": [1.0]}, {"column": "x", "bins": [2.0, 1.0]}]


class NFrauds(Check):
    """A number of seed frauds (an integer >= 2) or "all"."""

    def check(self, key, v):
        if v == "all":
            return v
        return Int(2).check(key, v)

    def invalid_examples(self):
        return [0, 1, "some", 2.5, None]


class Weights(Check):
    """{segment value: weight >= 0}, at least one weight > 0; keys may be written as numbers (`4: 1.0`) and are
    compared as text with the column's values."""

    def check(self, key, v):
        if not isinstance(v, dict) or not v:
            self.fail(key, f"must be a non-empty mapping of segment value -> weight, got {v!r}")
        out = {}
        for k, w in v.items():
            name = str(int(k)) if isinstance(k, float) and float(k).is_integer() else str(k)
            out[name] = Float(0.0).check(f"{key}.{name}", w)
        if not any(w > 0 for w in out.values()):
            self.fail(key, "needs at least one weight above 0")
        return out

    def invalid_examples(self):
        return [{}, ["a"], {"a": -1.0}, {"a": 0.0}]


class Scheduler(Check):
    """`local`, `sequential` or a Dask scheduler address such as tcp://host:8786 (`pipeline.core.compute`)."""

    def check(self, key, v):
        from pipeline.core.compute import LOCAL, SEQUENTIAL, is_address

        if v in (LOCAL, SEQUENTIAL) or is_address(v):
            return v
        self.fail(key, f"must be 'local', 'sequential' or a Dask scheduler address like tcp://host:8786; got {v!r}")

    def invalid_examples(self):
        return ["", "cluster", "tcp://", 8786]


class MemorySize(Check):
    """A memory size Dask understands ("4GiB", "500MB")."""

    def check(self, key, v):
        from dask.utils import parse_bytes

        try:
            if isinstance(v, str) and parse_bytes(v) > 0:
                return v
        except (ValueError, TypeError):
            pass
        self.fail(key, f'must be a memory size like "4GiB" or "500MB"; got {v!r}')

    def invalid_examples(self):
        return ["", "lots", 4, "-1GB"]


class Generators(Check):
    """name -> hyperparameters; each entry must build a generator (`type:` picks the implementation)."""

    def check(self, key, v):
        from pipeline.generators.registry import generator_names, make_generator, split_type  # light: no SDV

        if not isinstance(v, dict) or not v:
            self.fail(key, "must be a mapping of generator name -> hyperparameters with at least one entry")
        valid = generator_names()
        problems: list[tuple[str, str]] = []
        out = {}
        for name, hp in v.items():
            sub = f"{key}.{name}"
            if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
                problems.append((sub, "generator names may hold only letters, digits, '_' and '-'"))
                continue
            hp = {} if hp is None else hp
            if not isinstance(hp, dict):
                problems.append((sub, f"must be a mapping of hyperparameters, got {type(hp).__name__}"))
                continue
            gen_type, hp = split_type(name, hp)
            if gen_type not in valid:
                problems.append(
                    (
                        sub,
                        f"unknown generator {gen_type!r}; valid names: {', '.join(valid)} "
                        "(set `type:` to one of them to use a custom name)",
                    )
                )
                continue
            try:
                make_generator(gen_type, hp)
            except ConfigError as e:
                problems.append((sub, str(e)))
                continue
            out[name] = dict(v[name] or {})
        if problems:
            raise Invalid(problems)
        return out


class Tactic(Check):
    """One red-team tactic (`experiment.redteam`): {name, feature, op, value}. The ops and their values: `scale` a
    factor in (0, 10]; `shift` any number added; `clip_quantile` q in (0, 1): the value is cut to at most the
    q-quantile of the legitimate training rows; `hours` [start, end] with 0 <= start < end <= 24: an hour of day
    outside the window is moved into it; `mode` (no value): a categorical value replaced by the most common
    legitimate one. Whether the feature exists and has the right type is checked against the schema when the
    tactics are used (`pipeline.experiment.redteam.attacks`)."""

    OPS = ("scale", "shift", "clip_quantile", "hours", "mode")
    _VALUES = {
        "scale": Float(0.0, 10.0, lo_open=True),
        "shift": Float(),
        "clip_quantile": Float(0.0, 1.0, lo_open=True, hi_open=True),
    }

    def check(self, key, v):
        if not isinstance(v, dict):
            self.fail(key, f"must be a mapping {{name, feature, op, value}}, got {v!r}")
        unknown = sorted(set(v) - {"name", "feature", "op", "value"})
        if unknown:
            self.fail(f"{key}.{unknown[0]}", "unknown key; valid keys: name, feature, op, value")
        feature = Str().check(f"{key}.feature", v.get("feature"))
        op = Str(self.OPS).check(f"{key}.op", v.get("op"))
        value = v.get("value")
        if op == "mode":
            if value is not None:
                self.fail(f"{key}.value", "op mode takes no value (it uses the most common legitimate value)")
        elif op == "hours":
            hours = ListOf(Float(0.0, 24.0), min_len=2).check(f"{key}.value", value)
            if len(hours) != 2 or not hours[0] < hours[1]:
                self.fail(f"{key}.value", f"must be [start, end] with 0 <= start < end <= 24, got {value!r}")
            value = hours
        else:
            value = self._VALUES[op].check(f"{key}.value", value)
        name = v.get("name")
        if name is None:
            name = f"{feature}_{op}" + (
                "" if value is None else "_" + "-".join(f"{x:g}" for x in (value if op == "hours" else [value]))
            )
        Str().check(f"{key}.name", name)
        if "+" in name:
            self.fail(f"{key}.name", f"may not hold '+' (it joins the names of combined tactics), got {name!r}")
        return {"name": name, "feature": feature, "op": op, "value": value}

    def invalid_examples(self):
        return [
            "amount",
            {"feature": "x", "op": "squash", "value": 1.0},
            {"feature": "x", "op": "scale", "value": 0},
            {"feature": "x", "op": "scale", "value": 11.0},
            {"feature": "x", "op": "clip_quantile", "value": 1.0},
            {"feature": "x", "op": "hours", "value": [17, 9]},
            {"feature": "x", "op": "hours", "value": [9, 25]},
            {"feature": "x", "op": "mode", "value": 3},
            {"feature": "x", "op": "scale", "value": 0.5, "how": 1},
            {"feature": "x", "op": "scale", "value": 0.5, "name": "a+b"},
        ]
