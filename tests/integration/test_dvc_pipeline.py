"""A real `dvc repro` of the whole pipeline, small, in a temporary git repo.

One run builds a template project; every test that changes anything works on its own copy, so the
tests are independent of each other and of their order.
"""

import json
import shutil

import pandas as pd
import pytest
import yaml

from pipeline.cli import RECORD_ENV
from pipeline.core import warmstart
from tests.dvc_coverage import stages, uncovered_params
from tests.integration.project import make_project, sh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    base = tmp_path_factory.mktemp("dvc")
    root = make_project(base / "proj", tracking_store=False)  # the first publish creates the store, as in `make run`
    sh(root, "dvc", "repro", extra_env={RECORD_ENV: str(base / "reads")})
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "first run")
    return root


@pytest.fixture
def repo(template, tmp_path):
    return shutil.copytree(template, tmp_path / "proj", symlinks=True)


def test_every_params_key_a_stage_reads_is_declared(template):
    """Recorded during the real run above: each stage's reads against its `params` in dvc.yaml."""
    declared = stages(
        yaml.safe_load((template / "dvc.yaml").read_text()), yaml.safe_load((template / "params.yaml").read_text())
    )
    reads_dir = template.parent / "reads"
    recorded = {p.stem: json.loads(p.read_text()) for p in reads_dir.glob("*.json")}
    assert set(recorded) == set(declared)  # every stage ran and recorded
    for sid, reads in recorded.items():
        assert reads, f"{sid} recorded no params reads"
        assert uncovered_params(declared[sid], reads) == [], sid


def test_outputs_exist(template):
    repo = template
    for rel in (
        "data/prepared/train.parquet",
        "data/prepared/schema.json",
        "models/generators/smote/fit0.pkl",
        "data/synthetic/gaussian_copula/fit0/pool.parquet",
        "reports/generators/smote/fit0/quality.json",
        "reports/generators/gaussian_copula/fit0/fit.json",
        "reports/comparison.csv",
        "reports/metrics.json",
        "reports/summary.md",
        "reports/plots/recall_vs_share.png",
        "reports/plots/pr_curves.png",
        "reports/plot_data/recall_vs_share.csv",
        "reports/mlflow.json",
        "reports/scarcity/scarcity.csv",
        "reports/scarcity/summary.md",
        "reports/scarcity/lift_vs_n_frauds.png",
        "reports/scarcity/metrics.json",
        "reports/unseen/unseen.csv",
        "reports/unseen/summary.md",
        "reports/unseen/metrics.json",
        "reports/unseen/recall_on_unseen_variants.png",
        "reports/redteam/redteam.csv",
        "reports/redteam/summary.md",
        "reports/redteam/metrics.json",
        "reports/redteam/heatmap.png",
    ):
        assert (repo / rel).exists(), rel
    table = pd.read_csv(repo / "reports/comparison.csv")
    assert set(table["config"]) == {"baseline", "reweight", "gaussian_copula@0.5", "smote@0.5"}
    assert set(table["verdict"]) <= {"reference", "helps", "hurts", "equivalent", "inconclusive"}
    summary = (repo / "reports/summary.md").read_text()
    assert "baseline" in summary and "| configuration |" in summary
    redteam = json.loads((repo / "reports/redteam/metrics.json").read_text())
    assert redteam["tactics"][:2] == ["amount_x0.5", "amount_x0.25"] and redteam["real_only"]["config"] == "baseline"


def test_second_repro_changes_nothing(repo):
    out = sh(repo, "dvc", "repro").stdout
    assert "Data and pipelines are up to date" in out
    assert "Running stage" not in out


def test_changing_shares_refits_no_generator_and_metrics_diff(repo):
    before = {
        p: (repo / p).stat().st_mtime_ns
        for p in ("models/generators/smote/fit0.pkl", "models/generators/gaussian_copula/fit0.pkl")
    }
    out = sh(repo, "dvc", "exp", "run", "-S", "augment.shares=[0.0,0.25]").stdout
    assert "Running stage 'fit@" not in out
    assert "Running stage 'sample@smote-0'" in out and "Running stage 'train'" in out
    assert "Running stage 'scarcity" not in out  # the sweep has its own shares
    for p, mtime in before.items():
        assert (repo / p).stat().st_mtime_ns == mtime
    diff = sh(repo, "dvc", "metrics", "diff").stdout
    assert "best_augmented" in diff or "test.best" in diff
    table = pd.read_csv(repo / "reports/comparison.csv")
    assert "smote@0.25" in set(table["config"])


def test_detector_change_retrains_without_refitting(repo):
    p = yaml.safe_load((repo / "params.yaml").read_text())
    p["detector"]["max_depth"] = 4
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    # up to train: fit and sample are its ancestors, so what is asserted holds for the whole pipeline, and the stages
    # after train (evaluate, red team, unseen, scarcity, publish; each run by other tests here) are not paid again
    out = sh(repo, "dvc", "repro", "train").stdout
    assert "Running stage 'fit@" not in out and "Running stage 'sample@" not in out
    assert "Running stage 'train'" in out


#: the stages rerun cold below: between them they run every library a stage imports through the warm-start server
#: (SDV's copulas and imbalanced-learn fitting and sampling, the SDMetrics gate, XGBoost training and scoring, the
#: evaluation's statistics and matplotlib plots); the rest run the same library code
COLD_RERUN = ("fit@gaussian_copula-0", "sample@gaussian_copula-0", "fit@smote-0", "sample@smote-0", "train", "evaluate")


def test_rerun_gives_identical_comparison(repo):
    """The template ran its stages warm (forks of the warm-start server; those that started before the server had
    finished importing ran cold); rerun `COLD_RERUN` cold, each forced: the same pools, detectors and reports."""
    tables = sorted((repo / "reports").rglob("*.csv"))
    first = {t: t.read_bytes() for t in tables}
    detectors = {d: d.read_bytes() for d in (repo / "models/detectors").rglob("*.json")}
    pools = {p: pd.read_parquet(p) for p in (repo / "data/synthetic").rglob("pool.parquet")}
    assert len(tables) >= 5 and len(pools) == 2 and detectors
    out = sh(repo, "dvc", "repro", "--force", "--single-item", *COLD_RERUN, extra_env={warmstart.SOCKET_ENV: ""}).stdout
    assert _ran(out) == set(COLD_RERUN)
    assert {t: t.read_bytes() for t in tables} == first
    assert {d: d.read_bytes() for d in detectors} == detectors
    for p, pool in pools.items():
        pd.testing.assert_frame_equal(pd.read_parquet(p), pool)


def _set(repo, section, key, value):
    p = yaml.safe_load((repo / "params.yaml").read_text())
    p[section][key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))


def _ran(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")}


def test_a_second_fit_seed_fits_only_the_new_fits_and_widens_the_verdict(repo):
    before = (repo / "models/generators/smote/fit0.pkl").stat().st_mtime_ns
    _set(repo, "augment", "fit_seeds", [0, 1])
    out = sh(repo, "dvc", "repro").stdout
    ran = _ran(out)
    assert {
        "fit@smote-1",
        "fit@gaussian_copula-1",
        "sample@smote-1",
        "sample@gaussian_copula-1",
        "train",
        "evaluate",
    } <= ran
    assert not {"fit@smote-0", "sample@smote-0", "prepare"} & ran and not any(s.startswith("scarcity") for s in ran)
    assert (repo / "models/generators/smote/fit0.pkl").stat().st_mtime_ns == before
    # a deterministic fit (SMOTE) still gives another pool: each fit's pool is sampled with its own seed
    pools = [pd.read_parquet(repo / f"data/synthetic/smote/fit{f}/pool.parquet") for f in (0, 1)]
    assert not pools[0].equals(pools[1])
    table = pd.read_csv(repo / "reports/comparison.csv").set_index("config")
    assert table.loc["smote@0.5", "n_fits"] == 2 and table.loc["baseline", "n_fits"] == 0
    assert table.loc["smote@0.5", "diff_ci_width"] >= table.loc["smote@0.5", "diff_ci_width_without_fits"]
    train = json.loads((repo / "reports/train.json").read_text())
    assert sorted({(d["fit_seed"], d["seed"]) for d in train["detectors"] if d["config"] == "smote@0.5"}) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert "Generator randomness: each generator was fitted 2 times" in (repo / "reports/summary.md").read_text()


def test_the_scarcity_sweep_reuses_its_cells_when_a_value_is_added(repo):
    table = pd.read_csv(repo / "reports/scarcity/scarcity.csv")
    assert list(table["n_requested"].astype(str)) == ["10", "all"]
    assert set(table["verdict"]) <= {"helps", "hurts", "equivalent", "inconclusive"}
    summary = (repo / "reports/scarcity/summary.md").read_text()
    assert summary.startswith("# Scarcity sweep") and "| smote@0.5 | 10 |" in summary
    old = {p.name: p.stat().st_mtime_ns for p in (repo / "data/cache/scarcity").glob("*.json")}
    assert len(old) == 4  # (n = 10, all) x draws (0, 1), one generator
    _set(repo, "scarcity", "n_frauds", [10, 20, "all"])
    out = sh(repo, "dvc", "repro").stdout
    assert _ran(out) == {"scarcity"}
    assert "scarcity: 6 cells, 2 computed and 4 reused from the cache" in out  # only n = 20's two draws ran
    for name, mtime in old.items():
        assert (repo / "data/cache/scarcity" / name).stat().st_mtime_ns == mtime
    table = pd.read_csv(repo / "reports/scarcity/scarcity.csv")
    assert list(table["n_requested"].astype(str)) == ["10", "20", "all"]
    assert list(table["n_frauds"])[:2] == [10, 20]


def test_the_unseen_test_runs_in_the_pipeline_and_reuses_its_cells(repo):
    table = pd.read_csv(repo / "reports/unseen/unseen.csv")
    assert set(table["variant_column"]) == {"fraud_scenario"} and set(table["config"]) == {"real-only", "smote@0.5"}
    summary = (repo / "reports/summary.md").read_text()
    assert summary.splitlines()[2].count("Unseen attack variants (each of ") == 1  # in the first paragraph
    n_variants = table["variant"].nunique()
    _set(repo, "unseen", "shares", [0.5, 0.25])
    out = sh(repo, "dvc", "repro").stdout
    ran = _ran(out)
    assert {"unseen", "evaluate", "publish"} <= ran and not {"train", "prepare"} & ran
    # only the new share's cells ran: one per variant (one generator), the rest came from the cell cache
    assert f"unseen: {n_variants} cells computed, {2 * n_variants + 1} reused" in out
    assert "smote@0.25" in set(pd.read_csv(repo / "reports/unseen/unseen.csv")["config"])


def test_targeted_pools_run_end_to_end(repo):
    _set(repo, "augment", "target", {"column": "fraud_scenario", "policy": "balance"})
    ran = _ran(sh(repo, "dvc", "repro").stdout)
    assert {"fit@smote-0", "sample@smote-0", "train", "evaluate"} <= ran
    assert not any(s.startswith("scarcity") for s in ran)  # the sweep does not target
    quality = json.loads((repo / "reports/generators/smote/fit0/quality.json").read_text())
    t = quality["targeted"]
    assert t["column"] == "fraud_scenario" and sum(t["counts"].values()) == t["pool_rows"] == quality["pool_rows"]
    assert t["mix"] == {k: v for k, v in t["counts"].items() if v}  # the pool holds exactly the allocation
    seeds = t["seed_counts"]
    smallest = min(seeds, key=seeds.get)
    assert t["counts"][smallest] == max(t["counts"].values())  # balance tops up the smallest segment most
    assert (repo / "data/synthetic/smote/fit0/targeted.parquet").exists()
    table = pd.read_csv(repo / "reports/comparison.csv")
    assert {"smote+target@0.5", "gaussian_copula+target@0.5", "smote@0.5"} <= set(table["config"])
    segs = pd.read_csv(repo / "reports/comparison_segments.csv")
    assert "smote+target@0.5" in set(segs["config"])
    summary = (repo / "reports/summary.md").read_text()
    assert "Targeted vs untargeted pools (augment.target: fraud_scenario, topping up" in summary
    assert "- **smote+target@0.5** vs smote@0.5: fraud_scenario=" in summary
