"""``tosca logs [EXECUTION] [--deployment D] [--follow] [--level L]``"""

from __future__ import annotations

import time
from datetime import datetime

import typer

from orchestrator.cli.common import OutputFormat, emit_json, handle_errors
from orchestrator.cli.progress import WORKSPACE_HELP, make_service
from orchestrator.errors import UsageError

__all__ = ["register"]

_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs_cmd(
        execution: str | None = typer.Argument(None, help="Execution id (default: latest)."),
        deployment: str | None = typer.Option(None, "--deployment", "-d", help="Deployment id."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        follow: bool = typer.Option(
            False, "--follow", "-f", help="Keep printing new lines until the execution ends."
        ),
        level: str = typer.Option("DEBUG", "--level", "-l", help="Lowest level shown."),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Print an execution's logs (operation output, job states, errors)."""
        with handle_errors():
            if level.upper() not in _LEVELS:
                raise UsageError(f"--level must be one of {', '.join(_LEVELS)}")
            levels = _LEVELS[_LEVELS.index(level.upper()) :]
            service = make_service(workspace)
            record = service.resolve_execution(execution, deployment)
            after = 0
            while True:
                rows = service.logs(record.id, after_id=after, levels=levels)
                for row in rows:
                    after = row.id
                    if output == OutputFormat.json:
                        emit_json(
                            {
                                "level": row.level,
                                "timestamp": row.ts,
                                "step": row.step_id,
                                "content": row.content,
                            }
                        )
                        continue
                    stamp = datetime.fromtimestamp(row.ts).strftime("%H:%M:%S.%f")[:-3]
                    step = f" [{row.step_id}]" if row.step_id else ""
                    for line in row.content.splitlines() or [""]:
                        typer.echo(f"{stamp} {row.level:<5}{step} {line}")
                if not follow:
                    return
                status = service.resolve_execution(record.id).status
                if status in ("succeeded", "failed", "cancelled") and not rows:
                    return
                time.sleep(0.3)
