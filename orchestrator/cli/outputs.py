"""``tosca outputs [DEPLOYMENT] [-o text|json] [--workspace D]``"""

from __future__ import annotations

import json

import typer

from orchestrator.cli.common import OutputFormat, emit_json, handle_errors
from orchestrator.cli.progress import WORKSPACE_HELP, make_service

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("outputs")
    def outputs_cmd(
        deployment: str | None = typer.Argument(None, help="Deployment id."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Show the topology outputs of a deployment (evaluated when it last succeeded)."""
        with handle_errors():
            outputs = make_service(workspace).outputs(deployment)
            if output == OutputFormat.json:
                emit_json(outputs)
                return
            for name, value in outputs.items():
                text = value if isinstance(value, str) else json.dumps(value)
                typer.echo(f"{name}: {text}")
