"""experiment.redteam: tactics touch fraud rows only, a no-op tactic changes no recall, bad tactics are one line, the
stage writes its table, heat map, summary and metrics."""

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config.params import validate
from pipeline.core.errors import ConfigError
from pipeline.core.files import read_json, write_json
from pipeline.core.paths import Paths
from pipeline.data.contract import infer_schema
from pipeline.experiment.detector import save_detector, train_detector
from pipeline.experiment.plan import Plan
from pipeline.experiment.redteam import CLEAN, Attack, apply_attack, attacks, summary_sentence
from pipeline.stages import redteam as stage
from tests.helpers import base_params, write_params, write_prepared

LABEL = "y"
DET = {
    "n_estimators": 40,
    "max_depth": 3,
    "learning_rate": 0.3,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "min_child_weight": 1.0,
    "early_stopping_rounds": 10,
    "n_jobs": 1,
}


def table(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Frauds: large amounts at night (tx_is_night derived from tx_hour as the built-in features do), a few more
    transactions, mostly on the web."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.08).astype(int)
    hour = np.where(y == 1, rng.uniform(0, 8, n), rng.uniform(0, 24, n))
    return pd.DataFrame(
        {
            "tx_amount": np.round(rng.lognormal(3, 0.5, n) * np.where(y == 1, 4.0, 1.0), 2),
            "tx_hour": hour,
            "tx_is_night": (hour < 6).astype(np.int64),
            "count": rng.poisson(3, n) + 2 * y,
            "channel": np.where(
                y == 1,
                rng.choice(["web", "pos"], n, p=[0.8, 0.2]),
                rng.choice(["web", "pos", "atm"], n, p=[0.2, 0.5, 0.3]),
            ),
            LABEL: y,
        }
    )


@pytest.fixture(scope="module")
def splits():
    df = table()
    train, valid, test = (df.iloc[a:b].reset_index(drop=True) for a, b in ((0, 3600), (3600, 4800), (4800, 6000)))
    return train, valid, test, infer_schema(train, LABEL)


def tactic(feature="tx_amount", op="scale", value=0.5, name=None) -> dict:
    return {k: v for k, v in {"name": name, "feature": feature, "op": op, "value": value}.items() if v is not None}


def rt(*tactics, combinations=False) -> dict:
    return validate(base_params(redteam={"tactics": list(tactics), "combinations": combinations}))["redteam"]


def test_every_tactic_changes_fraud_rows_only_and_never_its_input(splits):
    train, _, test, schema = splits
    legit_train = train[train[LABEL] == 0]
    before = test.copy()
    fraud = test[LABEL] == 1
    p = rt(
        tactic(value=0.25),
        tactic(op="shift", value=-50.0),
        tactic(op="clip_quantile", value=0.5),
        tactic("tx_hour", "hours", [9, 17]),
        tactic("channel", "mode", None),
        tactic("count", "scale", 0.5),
        combinations=True,
    )
    for a in attacks(p, schema):
        out = apply_attack(test, a, legit_train, schema)
        pd.testing.assert_frame_equal(test, before)  # the input is untouched
        pd.testing.assert_frame_equal(out[~fraud], test[~fraud])  # legitimate rows byte for byte
        assert list(out.dtypes) == list(test.dtypes)
        changed = {t["feature"] for t in a.steps}
        assert not out.loc[fraud, sorted(changed)].equals(test.loc[fraud, sorted(changed)]), a.name
        untouched = [c for c in test.columns if c not in changed | {"tx_is_night"}]
        pd.testing.assert_frame_equal(out[untouched], test[untouched])
    one = {a.name: a for a in attacks(p, schema)}
    out = apply_attack(test, one["tx_hour_hours_9-17"], legit_train, schema)
    assert out.loc[fraud, "tx_hour"].between(9, 17, inclusive="left").all()
    assert (out.loc[fraud, "tx_is_night"] == 0).all()  # derived from the attacked hour, as features.py does
    out = apply_attack(test, one["tx_amount_clip_quantile_0.5"], legit_train, schema)
    assert out.loc[fraud, "tx_amount"].max() <= legit_train["tx_amount"].quantile(0.5)
    assert (apply_attack(test, one["channel_mode"], legit_train, schema).loc[fraud, "channel"] == "pos").all()
    assert "tx_amount_scale_0.25+tx_hour_hours_9-17" in one  # pairs on different features only
    assert not any(n.startswith("tx_amount_scale_0.25+tx_amount") for n in one)


@pytest.mark.parametrize(
    "bad, message",
    [
        (tactic("amout"), "redteam.tactics[0].feature: unknown feature 'amout'; features: tx_amount"),
        (tactic("channel", "scale", 0.5), "op scale needs a numeric feature, 'channel' is categorical"),
        (tactic("tx_amount", "mode", None), "op mode needs a categorical feature, 'tx_amount' is numeric"),
    ],
)
def test_a_feature_the_schema_lacks_or_of_the_wrong_type_is_one_line(splits, bad, message):
    with pytest.raises(ConfigError) as e:
        attacks(rt(bad), splits[3])
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "bad, key",
    [
        (tactic(value=0.0), "redteam.tactics[0].value: must be in (0.0, 10.0]"),
        (tactic(value=12.0), "redteam.tactics[0].value: must be in (0.0, 10.0]"),
        (tactic(op="clip_quantile", value=1.0), "redteam.tactics[0].value: must be in (0.0, 1.0)"),
        (tactic("tx_hour", "hours", [17, 9]), "redteam.tactics[0].value: must be [start, end] with 0 <= start < end"),
        (tactic("tx_hour", "hours", [9, 25]), "redteam.tactics[0].value[1]: must be in [0.0, 24.0]"),
        (tactic(op="squash"), "redteam.tactics[0].op: must be one of"),
        (tactic(name="a+b"), "redteam.tactics[0].name: may not hold '+'"),
    ],
)
def test_a_tactic_out_of_range_is_one_line(bad, key):
    with pytest.raises(ConfigError) as e:
        rt(bad)
    assert key in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="names 'x' more than once"):
        rt(tactic(name="x"), tactic(value=0.3, name="x"))


def _project(tmp_path, splits, tactics, combinations=False) -> tuple[dict, Paths]:
    """A project with prepared splits and four trained detectors (real-only and reweight, two seeds each)."""
    train, valid, test, schema = splits
    paths = write_prepared(tmp_path, *splits)
    Xt, Xv = schema.to_model_frame(train), schema.to_model_frame(valid)
    yt, yv = train[LABEL].to_numpy(), valid[LABEL].to_numpy()
    records = []
    for kind, spw in (("baseline", None), ("reweight", float((yt == 0).sum() / yt.sum()))):
        for seed in (0, 1):
            model, _ = train_detector(Xt, yt, Xv, yv, DET, seed, spw)
            save_detector(model, paths.detectors / f"{kind}_s{seed}.json")
            records.append(
                {
                    "model": f"{kind}_s{seed}.json",
                    "config": kind,
                    "title": kind,
                    "kind": kind,
                    "generator": None,
                    "share": 0.0,
                    "seed": seed,
                    "n_real_fraud": int(yt.sum()),
                    "n_synthetic": 0,
                }
            )
    plan = Plan(pools=(), shares=(0.0,), fit_seeds=(0,), seeds=(0, 1))  # the baselines only, as train records it
    write_json(paths.train_report, {**plan.record(), "detectors": records})
    write_json(paths.serving, {"best": {"config": "reweight"}})
    p = base_params(redteam={"tactics": tactics, "combinations": combinations})
    p["evaluate"]["fpr_budgets"] = [0.02]
    p["serve"]["review_budget"] = 0.05
    return validate(p), paths


def test_a_tactic_that_changes_nothing_leaves_every_recall_exactly_equal(splits, tmp_path):
    params, paths = _project(
        tmp_path, splits, [tactic(value=1.0, name="x1"), tactic("tx_hour", "hours", [0, 24], name="whole_day")], True
    )
    out = stage.run(params, paths)
    tab = pd.read_csv(paths.redteam_table)
    assert set(tab["tactic"]) == {CLEAN, "x1", "whole_day", "x1+whole_day"}
    assert (tab["recall"] == tab["clean_recall"]).all() and (tab["drop"] == 0).all()
    assert (tab["recall"] > 0).all()
    assert out["real_only"]["x1"] == {"recall": out["real_only"][CLEAN]["recall"], "drop": 0.0}


def test_the_stage_writes_table_heat_map_summary_and_metrics(splits, tmp_path, capsys):
    params, paths = _project(
        tmp_path,
        splits,
        [tactic(value=0.25, name="amount_x0.25"), tactic("tx_hour", "hours", [9, 17], name="business_hours")],
        True,
    )
    out = stage.run(params, paths)
    for f in (paths.redteam_table, paths.redteam_summary, paths.redteam_metrics, paths.redteam_plot):
        assert f.exists(), f
    assert out["tactics"] == ["amount_x0.25", "business_hours", "amount_x0.25+business_hours"]
    # the night signature is the strongest: recall 0 alone and combined; a tie goes to the attack listed first
    assert out["strongest_tactic"] == "business_hours" and out["real_only"]["business_hours"]["recall"] == 0.0
    assert out["real_only"]["amount_x0.25"]["drop"] > 0.1
    assert out["challenger"]["config"] == "reweight" and "verdict" in out["challenger"]["amount_x0.25"]
    text = paths.redteam_summary.read_text()
    assert text.splitlines()[2].startswith(
        "Under the strongest tactic (business_hours) the real-only detector's recall falls from "
    )
    assert "(the challenger, reweight:" in text and "tx_is_night recomputed" in text
    assert "customer_avg_amount_*" in text and "Under the strongest tactic" in capsys.readouterr().out
    assert read_json(paths.redteam_metrics) == out


def test_off_writes_empty_outputs_and_bad_params_exit_2(splits, tmp_path, capsys):
    params, paths = _project(tmp_path, splits, [])
    assert stage.run(params, paths) == {"tactics": [], "verdicts": {}}
    assert "The red team is off" in paths.redteam_summary.read_text() and paths.redteam_plot.exists()
    p = base_params(redteam={"tactics": [tactic("amout")]})
    write_params(tmp_path, p)
    capsys.readouterr()
    assert main(["--root", str(tmp_path), "redteam"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: params.yaml: redteam.tactics[0].feature: unknown feature 'amout'")
    assert "\n" not in err
    p["redteam"]["tactics"] = [tactic(value=20.0)]
    write_params(tmp_path, p)
    assert main(["--root", str(tmp_path), "redteam"]) == 2
    assert "redteam.tactics[0].value: must be in (0.0, 10.0], got 20.0" in capsys.readouterr().err


def test_summary_when_off():
    assert summary_sentence(pd.DataFrame()).startswith("The red team is off")
    assert Attack("a", ()).name == "a"
