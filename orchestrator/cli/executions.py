"""``tosca executions list|status|cancel|resume``"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

import typer

from orchestrator.cli.common import OutputFormat, collect_inputs, emit_json, handle_errors
from orchestrator.cli.progress import WORKSPACE_HELP, make_service, run_command
from orchestrator.errors import UsageError

__all__ = ["register"]


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def register(app: typer.Typer) -> None:
    ex = typer.Typer(help="Inspect, cancel and resume executions.", no_args_is_help=True)

    @ex.command("list")
    def list_cmd(
        deployment: str | None = typer.Option(None, "--deployment", "-d", help="Deployment id."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """List executions, oldest first."""
        with handle_errors():
            executions = make_service(workspace).list_executions(deployment)
            if output == OutputFormat.json:
                emit_json(
                    [
                        {
                            "id": e.id,
                            "deployment": e.deployment_id,
                            "workflow": e.workflow,
                            "status": e.status,
                            "created_at": e.created_at,
                            "ended_at": e.ended_at,
                        }
                        for e in executions
                    ]
                )
                return
            for e in executions:
                typer.echo(
                    f"{e.id}  {e.deployment_id:<20} {e.workflow:<12} {e.status:<10} "
                    f"{_when(e.created_at)}"
                )

    @ex.command("status")
    def status_cmd(
        execution: str | None = typer.Argument(None, help="Execution id (default: latest)."),
        deployment: str | None = typer.Option(None, "--deployment", "-d", help="Deployment id."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Show an execution: status, outputs and every step."""
        with handle_errors():
            service = make_service(workspace)
            info = service.execution(service.resolve_execution(execution, deployment).id)
            if output == OutputFormat.json:
                emit_json(info)
                return
            typer.echo(
                f"execution {info['id']} ({info['workflow']} on {info['deployment']}): "
                f"{info['status']}"
            )
            if info["error"]:
                typer.echo(f"  error: {info['error']}")
            for name, value in info["outputs"].items():
                typer.echo(f"  output {name} = {value}")
            for s in info["steps"]:
                job = f" job {s['job_id']}" if s["job_id"] else ""
                tries = f" x{s['attempts']}" if s["attempts"] > 1 else ""
                typer.echo(f"  {s['status']:<10} {s['id']}{job}{tries}")

    @ex.command("cancel")
    def cancel_cmd(
        execution: str = typer.Argument(..., help="Execution id (a unique prefix is enough)."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        wait: bool = typer.Option(False, "--wait", help="Wait until it has stopped."),
        timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait at most."),
    ) -> None:
        """Cancel a running execution (its process cancels running jobs and stops)."""
        with handle_errors():
            service = make_service(workspace)
            record = service.cancel_execution(execution)
            typer.echo(f"cancel requested for execution {record.id} ({record.status})")
            deadline = time.monotonic() + timeout
            while wait and record.status not in ("succeeded", "failed", "cancelled"):
                if time.monotonic() > deadline:
                    typer.echo(f"execution {record.id} still {record.status}", err=True)
                    raise typer.Exit(1)
                time.sleep(0.2)
                record = service.resolve_execution(record.id)
            if wait:
                typer.echo(f"execution {record.id}: {record.status}")

    @ex.command("resume")
    def resume_cmd(
        execution: str = typer.Argument(..., help="Execution id."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        inputs: list[str] = typer.Option([], "-i", "--input", help="Secret inputs again."),
        inputs_file: Path | None = typer.Option(
            None, "--inputs", help="YAML/JSON file of the secret inputs (not shown in `ps`)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary."),
        secret_stdin: bool = typer.Option(
            False,
            "--secret-inputs-stdin",
            hidden=True,
            help="Read secret input values as one JSON object on stdin (what trigger uses).",
        ),
    ) -> None:
        """Run or finish a recorded execution (a triggered or interrupted one)."""
        with handle_errors():
            given = collect_inputs(inputs_file, inputs)
            if secret_stdin:
                given = {**_read_secret_inputs(), **given}
            service = make_service(workspace)
            run_command(
                f"execution {execution}",
                "execution on",
                lambda progress, cancel: service.resume_execution(
                    execution, inputs=given, on_event=progress, cancel=cancel
                ),
                quiet=quiet,
            )

    app.add_typer(ex, name="executions")


def _read_secret_inputs() -> dict[str, object]:
    """The JSON object of secret inputs a trigger writes on the detached process's stdin."""
    try:
        data = json.loads(sys.stdin.read() or "{}")
    except json.JSONDecodeError as exc:
        raise UsageError(f"--secret-inputs-stdin: stdin is not a JSON object ({exc.msg})") from None
    if not isinstance(data, dict):
        raise UsageError("--secret-inputs-stdin: stdin is not a JSON object")
    return data
