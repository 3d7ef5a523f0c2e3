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
from tests.dvc_coverage import stages, uncovered_params
from tests.integration.project import make_project, sh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    base = tmp_path_factory.mktemp("dvc")
    root = make_project(base / "proj")
    sh(root, "dvc", "repro", extra_env={RECORD_ENV: str(base / "reads")})
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "first run")
    return root


@pytest.fixture
def repo(template, tmp_path):
    return shutil.copytree(template, tmp_path / "proj", symlinks=True)


def test_every_params_key_a_stage_reads_is_declared(template):
    """Recorded during the real run above: each stage's reads against its `params` in dvc.yaml."""
    declared = stages(yaml.safe_load((template / "dvc.yaml").read_text()),
                      yaml.safe_load((template / "params.yaml").read_text()))
    reads_dir = template.parent / "reads"
    recorded = {p.stem: json.loads(p.read_text()) for p in reads_dir.glob("*.json")}
    assert set(recorded) == set(declared)  # every stage ran and recorded
    for sid, reads in recorded.items():
        assert reads, f"{sid} recorded no params reads"
        assert uncovered_params(declared[sid], reads) == [], sid


def test_outputs_exist(template):
    repo = template
    for rel in ("data/prepared/train.parquet", "data/prepared/schema.json", "models/generators/smote.pkl",
                "data/synthetic/gaussian_copula.parquet", "reports/generators/smote/quality.json",
                "reports/generators/gaussian_copula/fit.json", "reports/comparison.csv", "reports/metrics.json",
                "reports/summary.md", "reports/plots/recall_vs_share.png", "reports/plots/pr_curves.png",
                "reports/plot_data/recall_vs_share.csv", "reports/mlflow.json"):
        assert (repo / rel).exists(), rel
    table = pd.read_csv(repo / "reports/comparison.csv")
    assert set(table["config"]) == {"baseline", "reweight", "gaussian_copula@0.5", "smote@0.5"}
    assert set(table["verdict"]) <= {"reference", "helps", "hurts", "no clear effect"}
    summary = (repo / "reports/summary.md").read_text()
    assert "baseline" in summary and "| configuration |" in summary


def test_second_repro_changes_nothing(repo):
    out = sh(repo, "dvc", "repro").stdout
    assert "Data and pipelines are up to date" in out
    assert "Running stage" not in out


def test_changing_shares_refits_no_generator_and_metrics_diff(repo):
    before = {p: (repo / p).stat().st_mtime_ns for p in ("models/generators/smote.pkl",
                                                          "models/generators/gaussian_copula.pkl")}
    out = sh(repo, "dvc", "exp", "run", "-S", "augment.shares=[0.0,0.25]").stdout
    assert "Running stage 'fit@" not in out
    assert "Running stage 'sample@smote'" in out and "Running stage 'train'" in out
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
    out = sh(repo, "dvc", "repro").stdout
    assert "Running stage 'fit@" not in out and "Running stage 'sample@" not in out
    assert "Running stage 'train'" in out


def test_rerun_gives_identical_comparison(repo):
    first = (repo / "reports/comparison.csv").read_text()
    pool = pd.read_parquet(repo / "data/synthetic/smote.parquet")
    sh(repo, "dvc", "repro", "--force")
    assert (repo / "reports/comparison.csv").read_text() == first
    pd.testing.assert_frame_equal(pd.read_parquet(repo / "data/synthetic/smote.parquet"), pool)
    assert json.loads((repo / "reports/mlflow.json").read_text())["parent_run_id"]
