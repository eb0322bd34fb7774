"""``tosca validate PATH [--inputs FILE] [-i key=value]...``"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orchestrator.cli.common import OutputFormat, collect_inputs, emit_json, handle_errors

if TYPE_CHECKING:
    from orchestrator.tosca.model import ToscaModel

__all__ = ["register", "summary", "validate_template"]


def validate_template(path: str | Path, inputs: dict[str, Any] | None = None) -> ToscaModel:
    """Load and validate; raises ValidationError / UsageError (see ``orchestrator.tosca.load``)."""
    from orchestrator.tosca import load

    return load(path, inputs)


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
            model = validate_template(path, collect_inputs(inputs_file, inputs))
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
