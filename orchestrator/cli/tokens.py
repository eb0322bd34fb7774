"""``tosca tokens create|revoke|list``: the REST API's bearer tokens, kept hashed in the
workspace (the token text is printed once, at creation)."""

from __future__ import annotations

import re
from dataclasses import asdict

import typer

from orchestrator.cli.common import OutputFormat, emit_json, handle_errors
from orchestrator.cli.progress import WORKSPACE_HELP, make_service
from orchestrator.errors import UsageError

__all__ = ["parse_expiry", "register"]

_EXPIRY = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_expiry(text: str) -> float:
    """Seconds in ``30d``, ``12h``, ``90m``, ``3600`` ...; UsageError otherwise."""
    match = _EXPIRY.match(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--expires {text!r}: give a positive duration such as 30d, 12h, 90m")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def register(app: typer.Typer) -> None:
    tokens = typer.Typer(help="REST API tokens: create, revoke, list.", no_args_is_help=True)
    app.add_typer(tokens, name="tokens")

    @tokens.command("create")
    def create_cmd(
        user: str = typer.Option(..., "--user", "-u", help="Who the token authenticates."),
        role: str = typer.Option(
            "user",
            "--role",
            help="user, admin (sees everything) or alerts (may only POST /events).",
        ),
        expires: str | None = typer.Option(None, "--expires", help="Lifetime: 30d, 12h..."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Create a token; its text is shown this once only (only a hash is stored)."""
        with handle_errors():
            lifetime = parse_expiry(expires) if expires else None
            record, token = make_service(workspace).create_token(user, role, lifetime)
            if output == OutputFormat.json:
                emit_json({**asdict(record), "token": token})
                return
            typer.echo(token)
            typer.echo(
                f"token {record.id} for {record.user} ({record.role}); it is not shown again",
                err=True,
            )

    @tokens.command("revoke")
    def revoke_cmd(
        token_id: str = typer.Argument(..., help="The token's id (tosca tokens list)."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    ) -> None:
        """Revoke a token: calls with it are refused from now on."""
        with handle_errors():
            record = make_service(workspace).revoke_token(token_id)
            typer.echo(f"token {record.id} of {record.user} revoked")

    @tokens.command("list")
    def list_cmd(
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """List tokens (ids, users, roles, expiry; never their secrets)."""
        with handle_errors():
            records = make_service(workspace).list_tokens()
            if output == OutputFormat.json:
                emit_json([asdict(r) for r in records])
                return
            for r in records:
                state = "revoked" if r.revoked_at else "active"
                typer.echo(f"{r.id}  {r.user:<16} {r.role:<6} {state}")
