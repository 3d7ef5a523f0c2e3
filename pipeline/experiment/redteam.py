"""Red team: bounded attacker tactics applied to the real TEST frauds, and each detector's recall under them.

A tactic (`redteam.tactics` in params, checked by `config.params.Tactic`) changes one feature an attacker controls,
on the fraud rows only; legitimate rows, and so the alert thresholds (from the validation legit rows), never change:

* `scale` - the value times a factor in (0, 10] (amount x0.5: the fraudster splits a payment in two);
* `shift` - the value plus a number;
* `clip_quantile` - the value cut to at most the q-quantile of the legitimate TRAINING rows' values;
* `hours` - an hour of day outside [start, end) moved into it, deterministically:
  `start + (hour - start) mod (end - start)` (an hour inside the window stays; the spread of hours is kept);
* `mode` - a categorical value replaced by the most common legitimate training value.

An `Attack` is one tactic or, with `redteam.combinations`, a pair of tactics on different features applied in
order (named `a+b`). Integer features are rounded back to integers. Derived features: the built-in `tx_is_night`
(hour < 6, as `pipeline.data.features` computes it) is recomputed when `tx_hour` is attacked; no other derived
feature is (e.g. the customer windows `customer_avg_amount_*` over `tx_amount`): the attacker changes only the
declared features, which the summary states.

Results (`redteam_table`): per configuration and attack, recall at the alert threshold on the attacked copy, the
drop from the unattacked recall, and the paired bootstrap (`paired_with`, evaluate's settings) of the recall under
attack against the real-only detector's under the same attack, with the usual verdict words.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import ConfigError
from pipeline.core.formats import num, percent
from pipeline.core.paths import PARAMS_FILE
from pipeline.core.schema import Schema
from pipeline.experiment.grid import BASELINE
from pipeline.experiment.metrics import VERDICT_HELPS, VERDICT_HURTS, paired_with, verdict_counts

#: the unattacked test frauds (a column of the table and the heat map)
CLEAN = "none"
NUMERIC_OPS = ("scale", "shift", "clip_quantile", "hours")
#: built-in derived features recomputed from an attacked feature (the formula of pipeline/data/features.py)
DERIVED = {"tx_hour": {"tx_is_night": lambda hour: hour < 6.0}}

COLUMNS = [
    "config",
    "title",
    "kind",
    "tactic",
    "challenger",
    "n_test_frauds",
    "clean_recall",
    "recall",
    "drop",
    "ref_recall",
    "ref_drop",
    "diff",
    "diff_lo",
    "diff_hi",
    "detectable",
    "verdict",
]


@dataclass(frozen=True)
class Attack:
    name: str
    steps: tuple[dict[str, Any], ...]  # validated tactics, applied in order


def check_tactics(tactics: list[dict[str, Any]], schema: Schema) -> None:
    """Every tactic names a feature of the schema of the right type: one ConfigError line naming each problem."""
    problems = []
    for i, t in enumerate(tactics):
        key = f"redteam.tactics[{i}].feature"
        if t["feature"] not in schema.feature_names:
            problems.append(f"{key}: unknown feature {t['feature']!r}; features: {', '.join(schema.feature_names)}")
            continue
        categorical = schema.feature(t["feature"]).is_categorical
        if t["op"] in NUMERIC_OPS and categorical:
            problems.append(
                f"{key}: op {t['op']} needs a numeric feature, {t['feature']!r} is categorical (use op: mode)"
            )
        elif t["op"] == "mode" and not categorical:
            problems.append(
                f"{key}: op mode needs a categorical feature, {t['feature']!r} is numeric (use scale, "
                "shift, clip_quantile or hours)"
            )
    if problems:
        raise ConfigError(f"{PARAMS_FILE}: " + "; ".join(problems))


def attacks(redteam_params: dict[str, Any], schema: Schema) -> list[Attack]:
    """The attacks of `redteam:` (checked against the schema): each tactic, then with `combinations` each pair of
    tactics on different features, in the order listed."""
    tactics = list(redteam_params["tactics"])
    check_tactics(tactics, schema)
    out = [Attack(t["name"], (t,)) for t in tactics]
    if redteam_params["combinations"]:
        out += [
            Attack(f"{a['name']}+{b['name']}", (a, b))
            for a, b in itertools.combinations(tactics, 2)
            if a["feature"] != b["feature"]
        ]
    return out


def _numeric(t: dict[str, Any], x: np.ndarray, legit: pd.Series) -> np.ndarray:
    op, v = t["op"], t["value"]
    if op == "scale":
        return x * v
    if op == "shift":
        return x + v
    if op == "clip_quantile":
        return np.minimum(x, float(legit.quantile(v)))
    start, end = v
    return np.where((x >= start) & (x < end), x, start + np.mod(x - start, end - start))


def apply_attack(frame: pd.DataFrame, attack: Attack, legit: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """A copy of `frame` with the attack applied to its fraud rows (label 1) only; `legit` holds the legitimate
    training rows the quantiles and modes come from. `frame` itself is never changed."""
    out = frame.copy()
    fraud = (out[schema.label] == 1).to_numpy()
    if not fraud.any():
        return out
    for t in attack.steps:
        col, feature = t["feature"], schema.feature(t["feature"])
        if t["op"] == "mode":
            common = legit[col].dropna().value_counts(sort=True)
            if common.empty:
                raise ConfigError(
                    f"{PARAMS_FILE}: redteam tactic {t['name']!r}: feature {col!r} has no legitimate "
                    "training value to copy; drop the tactic"
                )
            out.loc[fraud, col] = common.index[0]
            continue
        x = out.loc[fraud, col].to_numpy(dtype=np.float64, na_value=np.nan)
        new = _numeric(t, x, legit[col].astype(np.float64))
        if feature.is_integer:
            new = np.round(new)
        out.loc[fraud, col] = new.astype(out[col].dtype)  # only the fraud rows are written
        for derived, formula in DERIVED.get(col, {}).items():
            if derived in schema.feature_names:
                out.loc[fraud, derived] = formula(new).astype(out[derived].dtype)
    return out


def derived_note(attack_list: list[Attack], schema: Schema) -> str:
    """What the report says about features derived from an attacked one."""
    attacked = {t["feature"] for a in attack_list for t in a.steps}
    redone = sorted(d for f in attacked for d in DERIVED.get(f, {}) if d in schema.feature_names)
    head = f"{', '.join(redone)} recomputed from the attacked hour; " if redone else ""
    return (
        f"Derived features: {head}no other feature derived from an attacked one (e.g. customer_avg_amount_* over "
        "tx_amount) is recomputed: the attacker changes only the declared features."
    )


# ---------------------------------------------------------------------------- results
def split_hits(hits: dict[str, np.ndarray], names: list[str], n: int) -> dict[str, dict[str, np.ndarray]]:
    """Hits on a stack of copies of the test frauds ([clean, attack 1, ...], n rows each) -> {copy: {config: hits}}."""
    return {name: {cfg: h[..., k * n : (k + 1) * n] for cfg, h in hits.items()} for k, name in enumerate(names)}


def redteam_table(
    configs: list[tuple[str, str, str]],
    hits: dict[str, dict[str, np.ndarray]],
    challenger: str | None,
    ev: dict[str, Any],
) -> pd.DataFrame:
    """One row per (configuration, copy of the test frauds: `CLEAN` and each attack). `configs`: (config, title,
    kind); `hits[copy][config]`: alerted test frauds ((seeds, rows) or (fits, seeds, rows)). The real-only baseline
    is the reference under the same copy."""
    base = next(c for c, _, kind in configs if kind == BASELINE)
    rows = []
    for tactic, by_config in hits.items():
        for config, title, kind in configs:
            h, clean = by_config[config], hits[CLEAN][config]
            b = paired_with(h, by_config[base], ev)
            row = {
                "config": config,
                "title": title,
                "kind": kind,
                "tactic": tactic,
                "challenger": config == challenger,
                "n_test_frauds": int(h.shape[-1]),
                "clean_recall": float(clean.mean()),
                "recall": b["recall"],
                "drop": float(clean.mean()) - b["recall"],
                "ref_recall": b["ref_recall"],
                "ref_drop": float(hits[CLEAN][base].mean()) - b["ref_recall"],
            }
            if kind == BASELINE:
                row.update({"diff": 0.0, "verdict": "reference"})
            else:
                row.update({k: b[k] for k in ("diff", "diff_lo", "diff_hi", "detectable", "verdict")})
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def strongest(table: pd.DataFrame) -> str | None:
    """The attack that costs the real-only detector the most recall (first listed on a tie)."""
    base = table[(table["kind"] == BASELINE) & (table["tactic"] != CLEAN)]
    return None if base.empty else str(base.loc[base["drop"].idxmax(), "tactic"])


def _judged(table: pd.DataFrame, verdict: str) -> dict[str, list[str]]:
    rows = table[(table["tactic"] != CLEAN) & (table["verdict"] == verdict)]
    return {str(title): list(g["tactic"]) for title, g in rows.groupby("title", sort=False)}


def summary_sentence(table: pd.DataFrame) -> str:
    if table.empty:
        return "The red team is off (redteam.tactics is empty): no tactic was tried."
    t = strongest(table)
    at = table[table["tactic"] == t]
    base = at[at["kind"] == BASELINE].iloc[0]
    text = (
        f"Under the strongest tactic ({t}) the real-only detector's recall falls from "
        f"{num(base['clean_recall'], 2)} to {num(base['recall'], 2)}"
    )
    chall = at[at["challenger"] & (at["kind"] != BASELINE)]
    if not chall.empty:
        c = chall.iloc[0]
        text += f" (the challenger, {c['title']}: {num(c['clean_recall'], 2)} to {num(c['recall'], 2)})"
    better, worse = _judged(table, VERDICT_HELPS), _judged(table, VERDICT_HURTS)
    if better:
        text += "; more robust than real-only beyond noise (higher recall under the same attack): " + "; ".join(
            f"{k} under {', '.join(v)}" for k, v in better.items()
        )
    else:
        text += "; no configuration keeps more recall than real-only under any tactic beyond noise"
    if worse:
        text += "; less robust (lower recall under the same attack): " + "; ".join(
            f"{k} under {', '.join(v)}" for k, v in worse.items()
        )
    return text + "."


def summary_markdown(
    table: pd.DataFrame, attack_list: list[Attack], schema: Schema, budget: float, plot_name: str
) -> str:
    lines = ["# Red team: recall under attacker tactics", "", summary_sentence(table), ""]
    if table.empty:
        return "\n".join(lines)
    n = int(table["n_test_frauds"].iloc[0])
    lines += [
        f"Each tactic changes the {n} real test frauds only; legitimate rows and the alert thresholds "
        f"(alert budget {percent(budget)} FPR, from the validation legitimate rows) are unchanged. "
        "Verdicts compare recall under an "
        "attack with the real-only detector's under the same attack (paired bootstrap over test frauds, "
        "detector seeds and generator fits). " + derived_note(attack_list, schema),
        "",
        f"These {int((table['kind'] != BASELINE).sum())} comparisons are not corrected for multiplicity: expect "
        f"about {0.05 * int((table['kind'] != BASELINE).sum()):.0f} helps or hurts by chance at a 95% CI, so "
        "treat a single one as a lead; a configuration that resists many tactics is the stronger signal.",
        "",
        f"![recall under attack]({plot_name})",
        "",
        "| tactic | real-only recall (drop) | challenger recall (drop) | higher recall than real-only | lower |",
        "|---|---|---|---|---|",
    ]
    for tactic, g in table.groupby("tactic", sort=False):
        base = g[g["kind"] == BASELINE].iloc[0]
        chall = g[g["challenger"]]
        ctext = (
            f"{num(chall.iloc[0]['recall'], 3)} ({num(chall.iloc[0]['drop'], 3)}; {chall.iloc[0]['title']})"
            if not chall.empty
            else "-"
        )
        helps = ", ".join(g.loc[g["verdict"] == VERDICT_HELPS, "title"]) or "-"
        hurts = ", ".join(g.loc[g["verdict"] == VERDICT_HURTS, "title"]) or "-"
        lines.append(f"| {tactic} | {num(base['recall'], 3)} ({num(base['drop'], 3)}) | {ctext} | {helps} | {hurts} |")
    return "\n".join(lines) + "\n"


def metrics(table: pd.DataFrame) -> dict[str, Any]:
    """DVC metrics: real-only and challenger recall and drop per tactic, the strongest tactic, verdict counts."""
    if table.empty:
        return {"tactics": [], "verdicts": {}}
    attacked = table[table["tactic"] != CLEAN]
    out: dict[str, Any] = {
        "tactics": list(dict.fromkeys(attacked["tactic"])),
        "n_test_frauds": int(table["n_test_frauds"].iloc[0]),
        "strongest_tactic": strongest(table),
    }
    for role, rows in (("real_only", table[table["kind"] == BASELINE]), ("challenger", table[table["challenger"]])):
        if rows.empty:
            continue
        out[role] = {"config": str(rows["config"].iloc[0])}
        for _, r in rows.iterrows():
            entry: dict[str, Any] = {"recall": float(r["recall"]), "drop": float(r["drop"])}
            if role == "challenger" and r["kind"] != BASELINE:
                entry.update({"diff": float(r["diff"]), "verdict": str(r["verdict"])})
            out[role][str(r["tactic"])] = entry
    out["verdicts"] = verdict_counts(attacked.loc[attacked["kind"] != BASELINE, "verdict"])
    return out
