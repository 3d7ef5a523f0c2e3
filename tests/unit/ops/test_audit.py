"""The retrain's lock and audit log: one holder at a time, named in the refusal; records appended and read back,
a torn line skipped."""

import pytest

from pipeline.core.errors import LockError
from pipeline.ops.audit import append_audit, exclusive_lock, read_audit


def test_a_second_holder_is_refused_with_the_first_named(tmp_path):
    lock = tmp_path / "locks" / "retrain.lock"
    with exclusive_lock(lock):
        assert lock.read_text().startswith("pid ")
        with pytest.raises(LockError, match=r"another retrain holds .*retrain.lock \(pid \d+ since "):
            with exclusive_lock(lock):
                pass
    assert lock.read_text() == ""  # released and cleared
    with exclusive_lock(lock):  # free again
        pass


def test_the_lock_is_released_when_the_body_fails(tmp_path):
    lock = tmp_path / "retrain.lock"
    with pytest.raises(RuntimeError):
        with exclusive_lock(lock):
            raise RuntimeError("boom")
    with exclusive_lock(lock):
        pass


def test_audit_records_are_appended_and_a_torn_line_is_skipped(tmp_path):
    log = tmp_path / "audit" / "retrain.jsonl"
    assert read_audit(log) == []
    append_audit(log, {"decision": "kept", "n": 1})
    append_audit(log, {"decision": "promoted", "n": 2})
    with open(log, "a") as fh:
        fh.write('{"decision": "half\n\n')
    assert [r["decision"] for r in read_audit(log)] == ["kept", "promoted"]
