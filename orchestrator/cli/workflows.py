"""``tosca workflows list|run|trigger``: custom workflows (e.g. ``exec_job``) of a deployment."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli.common import (
    OutputFormat,
    collect_inputs,
    emit_json,
    handle_errors,
)
from orchestrator.cli.progress import ANSIBLE_HELP, WORKSPACE_HELP, make_service, run_command

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    wf = typer.Typer(help="Run the custom workflows of a deployed template.", no_args_is_help=True)

    @wf.command("list")
    def list_cmd(
        deployment: str | None = typer.Option(None, "--deployment", "-d", help="Deployment id."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """List the workflows of a deployment with their inputs."""
        with handle_errors():
            service = make_service(workspace)
            dep = service.status(deployment)
            model = service.load(dep["template"], {})
            rows = [
                {"name": w.name, "description": w.description, "inputs": list(w.inputs)}
                for w in model.workflows.values()
            ]
            if output == OutputFormat.json:
                emit_json(rows)
                return
            for row in rows:
                inputs = f" (inputs: {', '.join(row['inputs'])})" if row["inputs"] else ""
                typer.echo(f"{row['name']}{inputs}  {row['description']}".rstrip())

    @wf.command("run")
    def run_cmd(
        name: str = typer.Argument(..., help="Workflow name, e.g. exec_job."),
        inputs_file: Path | None = typer.Option(None, "--inputs", help="YAML/JSON inputs file."),
        inputs: list[str] = typer.Option([], "-i", "--input", help="Input key=value."),
        deployment: str | None = typer.Option(None, "--deployment", "-d", help="Deployment id."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
        retries: int = typer.Option(
            0, "--retries", min=0, help="Retry a failed operation up to N times (back-off)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary."),
        ansible: str | None = typer.Option(
            None, "--ansible", metavar="warm|runner", help=ANSIBLE_HELP
        ),
        urgency: str | None = typer.Option(
            None, "--urgency", help="routine, high, urgent or emergency (overrides the policy)."
        ),
    ) -> None:
        """Run a workflow, follow it live and print its outcome (Ctrl-C cancels it)."""
        with handle_errors():
            service = make_service(workspace, retries=retries, ansible=ansible)
            given = collect_inputs(inputs_file, inputs)
            run_command(
                f"workflow {name}",
                f"workflow {name} on",
                lambda progress, cancel: service.run_workflow(
                    name,
                    given,
                    deployment_id=deployment,
                    on_event=progress,
                    cancel=cancel,
                    urgency=urgency,
                ),
                quiet=quiet,
                json_output=output == OutputFormat.json,
            )

    @wf.command("trigger")
    def trigger_cmd(
        name: str = typer.Argument(..., help="Workflow name, e.g. exec_job."),
        inputs_file: Path | None = typer.Option(None, "--inputs", help="YAML/JSON inputs file."),
        inputs: list[str] = typer.Option([], "-i", "--input", help="Input key=value."),
        deployment: str | None = typer.Option(None, "--deployment", "-d", help="Deployment id."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
        urgency: str | None = typer.Option(
            None, "--urgency", help="routine, high, urgent or emergency (overrides the policy)."
        ),
    ) -> None:
        """Start a workflow in the background and print its execution id at once."""
        with handle_errors():
            service = make_service(workspace)
            execution = service.trigger(
                name,
                collect_inputs(inputs_file, inputs),
                deployment_id=deployment,
                urgency=urgency,
            )
            if output == OutputFormat.json:
                emit_json(
                    {
                        "id": execution.id,
                        "status": execution.status,
                        "deployment": execution.deployment_id,
                        "workflow": name,
                    }
                )
            else:
                typer.echo(execution.id)

    app.add_typer(wf, name="workflows")
