"""``tosca plan PATH [--workflow install|uninstall|NAME] [-o text|json] [-i key=value]...``"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orchestrator.cli.common import OutputFormat, collect_inputs, emit_json, handle_errors

if TYPE_CHECKING:
    from orchestrator.plan.model import Plan

__all__ = ["make_plan", "plan_text", "register"]


def make_plan(
    path: str | Path, workflow: str = "install", inputs: dict[str, Any] | None = None
) -> Plan:
    """Load ``path`` and build ``workflow``'s plan (see ``Service.plan_template``)."""
    # Deferred: the service pulls in tosca-parser and the engine (CLI start-up).
    from orchestrator.service import Service

    return Service.plan_template(path, workflow, inputs)


def plan_text(plan: Plan) -> str:
    """Steps level by level: every step of a level may run in parallel."""
    # Deferred: plan layer only when a plan is printed (CLI start-up).
    from orchestrator.plan.builder import plan_levels

    levels = plan_levels(plan)
    lines = [f"workflow {plan.workflow}: {len(plan.steps)} steps in {len(levels)} levels"]
    for i, level in enumerate(levels, start=1):
        lines.append(f"level {i}:")
        for s in level:
            what = s.implementation.primary if s.implementation else s.activity
            if s.target_state:
                what = f"set_state {s.target_state}"
            extra = f"  on_failure: {', '.join(s.on_failure)}" if s.on_failure else ""
            lines.append(f"  {s.id}  [{what}]{extra}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_cmd(
        path: str = typer.Argument(..., help="Template file, directory or CSAR."),
        workflow: str = typer.Option(
            "install", "--workflow", "-w", help="install, uninstall or a custom workflow."
        ),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
        inputs_file: Path | None = typer.Option(
            None, "--inputs", help="YAML/JSON file of input values."
        ),
        inputs: list[str] = typer.Option(
            [], "-i", "--input", help="Input value key=value (repeatable)."
        ),
    ) -> None:
        """Show the steps a workflow would run, in order (text levels or JSON)."""
        with handle_errors():
            # Deferred: plan layer only when a plan is printed (CLI start-up).
            from orchestrator.plan.builder import plan_to_dict

            plan = make_plan(path, workflow, collect_inputs(inputs_file, inputs))
            if output == OutputFormat.json:
                emit_json(plan_to_dict(plan))
            else:
                typer.echo(plan_text(plan))
