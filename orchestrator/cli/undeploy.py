"""``tosca undeploy [DEPLOYMENT] [--forget] [--workspace D]``"""

from __future__ import annotations

import typer

from orchestrator.cli.common import OutputFormat, collect_inputs, handle_errors
from orchestrator.cli.progress import ANSIBLE_HELP, WORKSPACE_HELP, make_service, run_command

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("undeploy")
    def undeploy_cmd(
        deployment: str | None = typer.Argument(
            None, help="Deployment id (optional when the workspace holds one)."
        ),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        inputs: list[str] = typer.Option(
            [], "-i", "--input", help="Secret inputs to give again (key=value)."
        ),
        forget: bool = typer.Option(
            False, "--forget", help="Also delete the deployment's records once undeployed."
        ),
        resume: bool = typer.Option(
            False, "--resume", help="Finish an interrupted undeploy instead of starting anew."
        ),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary."),
        ansible: str | None = typer.Option(
            None, "--ansible", metavar="warm|runner", help=ANSIBLE_HELP
        ),
    ) -> None:
        """Run the uninstall workflow of a deployment (stop, delete, in reverse order)."""
        with handle_errors():
            service = make_service(workspace, ansible=ansible)
            given = collect_inputs(None, inputs)
            run_command(
                f"undeploy {deployment or ''}".strip(),
                "undeploy",
                lambda progress, cancel: service.undeploy(
                    deployment,
                    inputs=given,
                    on_event=progress,
                    cancel=cancel,
                    forget=forget,
                    resume=resume,
                ),
                quiet=quiet,
                json_output=output == OutputFormat.json,
            )
