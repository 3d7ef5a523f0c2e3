"""Provenance: the data fingerprint changes with any byte or name, a Parquet folder counts as its parts, the params
hash ignores key order, the commit says when the tree is dirty."""

import subprocess

from pipeline.core.provenance import file_fingerprint, git_commit, json_hash, package_versions, version


def test_the_fingerprint_follows_bytes_names_and_order(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x\n1\n")
    b.write_text("x\n2\n")
    first = file_fingerprint([a, b])
    assert first == file_fingerprint([a, b]) and len(first) == 16
    assert file_fingerprint([b, a]) != first
    b.write_text("x\n3\n")
    assert file_fingerprint([a, b]) != first


def test_a_folder_of_parts_counts_as_its_files(tmp_path):
    folder = tmp_path / "train.parquet"
    folder.mkdir()
    (folder / "part-0.parquet").write_bytes(b"one")
    (folder / "part-1.parquet").write_bytes(b"two")
    before = file_fingerprint([folder])
    (folder / "part-1.parquet").write_bytes(b"TWO")
    assert file_fingerprint([folder]) != before
    (folder / "part-1.parquet").write_bytes(b"two")
    assert file_fingerprint([folder]) == before
    (folder / "part-1.parquet").rename(folder / "part-2.parquet")
    assert file_fingerprint([folder]) != before


def test_the_params_hash_ignores_key_order():
    assert json_hash({"a": 1, "b": [1, 2]}) == json_hash({"b": [1, 2], "a": 1})
    assert json_hash({"a": 1}) != json_hash({"a": 2})


def test_the_commit_is_marked_dirty_and_unknown_outside_git(tmp_path):
    assert git_commit(tmp_path) == "unknown"
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "f.txt").write_text("1")
    run("add", "f.txt")
    run("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    clean = git_commit(tmp_path)
    assert len(clean) == 40 and not clean.endswith("-dirty")
    (tmp_path / "f.txt").write_text("2")
    assert git_commit(tmp_path) == clean + "-dirty"


def test_package_versions_name_only_installed_packages():
    versions = package_versions()
    assert versions["pandas"] == version("pandas") and "sdv" in versions
    assert version("no-such-package-here") is None
