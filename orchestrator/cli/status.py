"""``tosca status [DEPLOYMENT] [-o text|json] [--workspace D]``"""

from __future__ import annotations

from typing import Any

import typer

from orchestrator.cli.common import OutputFormat, emit_json, handle_errors
from orchestrator.cli.progress import WORKSPACE_HELP, make_service

__all__ = ["register", "status_text"]


def status_text(status: dict[str, Any]) -> str:
    lines = [
        f"deployment {status['deployment']}: {status['status']}",
        f"  template: {status['template']}",
    ]
    nodes = status["nodes"]
    if nodes:
        width = max(len(n["name"]) for n in nodes)
        lines.append("  nodes:")
        for n in nodes:
            lines.append(f"    {n['name']:<{width}}  {n['state']:<12} {n['type']}")
    last = status.get("last_execution")
    if last:
        counts: dict[str, int] = {}
        for s in last["steps"]:
            counts[s["status"]] = counts.get(s["status"], 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        lines.append(
            f"  last execution {last['id']} ({last['workflow']}): {last['status']} [{summary}]"
        )
        if last.get("error"):
            lines.append(f"    error: {last['error']}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status_cmd(
        deployment: str | None = typer.Argument(
            None, help="Deployment id (default: every deployment of the workspace)."
        ),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Show deployments: status, node states and the latest execution."""
        with handle_errors():
            service = make_service(workspace)
            ids = [deployment] if deployment else [d.id for d in service.list_deployments()]
            statuses = [service.status(i) for i in ids]
            if output == OutputFormat.json:
                emit_json(statuses[0] if deployment else statuses)
                return
            if not statuses:
                typer.echo(f"no deployment in {service.workspace}")
            typer.echo("\n".join(status_text(s) for s in statuses))
