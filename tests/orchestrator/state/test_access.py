"""API tokens (hashed, revocable, expiring), execution owners and the audit log in the store."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from orchestrator.errors import StateError
from orchestrator.state import Store


def test_a_token_verifies_until_revoked_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        record, token = store.create_token("alice", "user")
        assert token.startswith(f"tosca_{record.id}_")
        assert store.verify_token(token) == record
        secret = token.rsplit("_", 1)[1]
        assert store.verify_token(token[:-1] + ("x" if token[-1] != "x" else "y")) is None
        assert store.verify_token(f"tosca_{record.id}") is None
        assert store.verify_token("Bearer nonsense") is None
        store.revoke_token(record.id)
        assert store.verify_token(token) is None
        assert store.get_token(record.id).revoked_at is not None
    finally:
        store.close()
    raw = sqlite3.connect(tmp_path / "state.db").execute("SELECT * FROM api_tokens").fetchall()
    assert raw and not any(secret in str(col) for row in raw for col in row)


def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        _, token = store.create_token("bob", expires_in=0.05)
        assert store.verify_token(token) is not None
        time.sleep(0.1)
        assert store.verify_token(token) is None
    finally:
        store.close()


def test_bad_roles_and_user_names_are_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        with pytest.raises(StateError, match="role 'root'"):
            store.create_token("alice", "root")
        with pytest.raises(StateError, match="user name"):
            store.create_token("a b")
        with pytest.raises(StateError, match="no token"):
            store.revoke_token("nope")
    finally:
        store.close()


def test_owners_and_the_audit_log_survive_a_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_deployment("d", "t.yaml", {})
    ex = store.create_execution("d", "exec_job", [])
    store.set_owner(ex.id, "alice")
    store.audit("bob", "cancel", ex.id, False, "not the owner")
    store.close()
    store = Store(tmp_path)
    try:
        assert store.owner_of(ex.id) == "alice" and store.owners() == {ex.id: "alice"}
        (entry,) = store.audit_log()
        assert (entry.user, entry.action, entry.subject, entry.allowed) == (
            "bob", "cancel", ex.id, False)  # fmt: skip
    finally:
        store.close()
