"""``tosca tokens create|list|revoke``: the token is printed once, listed without its secret,
and refused once revoked; bad roles and lifetimes are clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import app
from orchestrator.cli.tokens import parse_expiry
from orchestrator.errors import UsageError
from orchestrator.service import Service

runner = CliRunner()


def test_create_list_revoke(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    created = runner.invoke(app, ["tokens", "create", "--user", "alice", "--expires", "30d",
                                  "--workspace", ws, "-o", "json"])  # fmt: skip
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    token = record["token"]
    assert record["user"] == "alice" and record["role"] == "user"
    assert 29 * 86400 < record["expires_at"] - record["created_at"] <= 30 * 86400
    listed = runner.invoke(app, ["tokens", "list", "--workspace", ws])
    assert record["id"] in listed.stdout and "active" in listed.stdout
    assert token.rsplit("_", 1)[1] not in listed.stdout
    service = Service(ws)
    try:
        assert service.authenticate(token) is not None
        revoked = runner.invoke(app, ["tokens", "revoke", record["id"], "--workspace", ws])
        assert revoked.exit_code == 0 and "revoked" in revoked.stdout
        assert service.authenticate(token) is None
        assert [a.action for a in service.audit_log()] == ["token.create", "token.revoke"]
    finally:
        service.close()
    assert "revoked" in runner.invoke(app, ["tokens", "list", "--workspace", ws]).stdout


def test_bad_role_lifetime_and_unknown_token_are_clear_errors(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    bad_role = runner.invoke(app, ["tokens", "create", "-u", "a", "--role", "root",
                                   "--workspace", ws])  # fmt: skip
    assert bad_role.exit_code != 0 and "role 'root'" in bad_role.output
    bad_life = runner.invoke(app, ["tokens", "create", "-u", "a", "--expires", "soon",
                                   "--workspace", ws])  # fmt: skip
    assert bad_life.exit_code == 2 and "--expires" in bad_life.output
    unknown = runner.invoke(app, ["tokens", "revoke", "nope", "--workspace", ws])
    assert unknown.exit_code != 0 and "no token 'nope'" in unknown.output
    assert "Traceback" not in bad_role.output + bad_life.output + unknown.output


def test_parse_expiry() -> None:
    assert parse_expiry("90m") == 5400 and parse_expiry("2w") == 14 * 86400
    assert parse_expiry("3600") == 3600
    for bad in ("0d", "-1h", "1y", ""):
        with pytest.raises(UsageError):
            parse_expiry(bad)
