"""``tosca validate PATH [--inputs FILE] [-i key=value]...``"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orchestrator.cli.common import OutputFormat, collect_inputs, emit_json, handle_errors
from orchestrator.errors import Problem, ValidationError

if TYPE_CHECKING:
    from orchestrator.tosca.model import ToscaModel

__all__ = ["problem_dict", "register", "summary", "validate_template"]


def validate_template(path: str | Path, inputs: dict[str, Any] | None = None) -> ToscaModel:
    """Load and validate; raises ValidationError / UsageError (see ``orchestrator.tosca.load``)."""
    # Deferred: the service pulls in tosca-parser and the engine (CLI start-up).
    from orchestrator.service import Service

    return Service.load(path, inputs)


def problem_dict(problem: Problem) -> dict[str, Any]:
    """One problem as JSON: message plus every known part of its location."""
    loc = problem.location
    where = {k: getattr(loc, k) for k in ("file", "line", "column", "node", "operation", "field")}
    return {"message": problem.message, **{k: v for k, v in where.items() if v is not None}}


def summary(model: ToscaModel) -> dict[str, Any]:
    return {
        "valid": True,
        "template": str(model.path),
        "nodes": {name: node.type for name, node in model.nodes.items()},
        "inputs": sorted(model.inputs),
        "outputs": sorted(model.outputs),
        "policies": {name: p.type for name, p in model.policies.items()},
        "workflows": model.workflow_names,
        "missing_inputs": model.missing_inputs(),
    }


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate_cmd(
        path: str = typer.Argument(..., help="Template file, directory or CSAR (.zip/.tar.gz)."),
        inputs_file: Path | None = typer.Option(
            None, "--inputs", help="YAML/JSON file of input values."
        ),
        inputs: list[str] = typer.Option(
            [], "-i", "--input", help="Input value key=value (repeatable)."
        ),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Check a service template; print every problem with its file and line."""
        with handle_errors():
            try:
                model = validate_template(path, collect_inputs(inputs_file, inputs))
            except ValidationError as exc:
                if output != OutputFormat.json:
                    raise
                emit_json({"valid": False, "problems": [problem_dict(p) for p in exc.problems]})
                raise typer.Exit(exc.exit_code) from None
            info = summary(model)
            if output == OutputFormat.json:
                emit_json(info)
                return
            typer.echo(
                f"valid: {path} ({len(model.nodes)} nodes, {len(model.policies)} policies, "
                f"workflows: {', '.join(model.workflow_names)})"
            )
            if info["missing_inputs"]:
                typer.echo(f"inputs still needed to deploy: {', '.join(info['missing_inputs'])}")
