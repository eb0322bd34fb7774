"""``tosca deploy PATH [--inputs F] [-i k=v] [--workspace D] [--name ID] [--resume] [--dry-run]
[--ansible warm|runner]``"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from orchestrator.cli.common import OutputFormat, collect_inputs, emit_json, handle_errors
from orchestrator.cli.progress import ANSIBLE_HELP, WORKSPACE_HELP, make_service, run_command

if TYPE_CHECKING:
    pass

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("deploy")
    def deploy_cmd(
        path: str = typer.Argument(..., help="Template file, directory or CSAR."),
        inputs_file: Path | None = typer.Option(None, "--inputs", help="YAML/JSON inputs file."),
        inputs: list[str] = typer.Option([], "-i", "--input", help="Input key=value (repeatable)."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        name: str | None = typer.Option(
            None, "--name", "-n", help="Deployment id (default: from the template's name)."
        ),
        resume: bool = typer.Option(
            False, "--resume", help="Finish an interrupted or failed deploy; keeps what is done."
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Validate and show the plan; run nothing, record nothing."
        ),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
        retries: int = typer.Option(
            0, "--retries", min=0, help="Retry a failed operation up to N times (back-off)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary."),
        ansible: str | None = typer.Option(
            None, "--ansible", metavar="warm|runner", help=ANSIBLE_HELP
        ),
    ) -> None:
        """Deploy a template: run its install workflow, with live progress and a summary.

        Ctrl-C cancels cleanly (running operations and jobs are cancelled); a killed deploy
        is finished by running the same command with --resume.
        """
        with handle_errors():
            service = make_service(workspace, retries=retries, ansible=ansible)
            given = collect_inputs(inputs_file, inputs)
            if dry_run:
                # Deferred: plan rendering only for --dry-run (CLI start-up).
                from orchestrator.cli.plan import plan_text
                from orchestrator.plan.builder import plan_to_dict

                outcome = service.deploy(path, given, deployment_id=name, dry_run=True)
                assert outcome.plan is not None
                if output == OutputFormat.json:
                    emit_json(plan_to_dict(outcome.plan))
                else:
                    typer.echo(plan_text(outcome.plan))
                    typer.echo("dry run: nothing was executed")
                return
            service.start_ansible_early(path)  # overlaps parsing and planning
            title = f"deploy {name or Path(path).name}"
            run_command(
                title,
                "deploy",
                lambda progress, cancel: service.deploy(
                    path,
                    given,
                    deployment_id=name,
                    resume=resume,
                    on_event=progress,
                    cancel=cancel,
                ),
                quiet=quiet,
                json_output=output == OutputFormat.json,
            )
