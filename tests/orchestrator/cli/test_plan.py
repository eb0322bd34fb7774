"""``tosca plan``: text levels and the JSON schema documented in the README."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli.main import build_app

ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "examples" / "minimal_workflow"
TSUNAMI = ROOT / "examples" / "tsunami"

runner = CliRunner()
app = build_app()


def test_text_plan_shows_levels() -> None:
    result = runner.invoke(app, ["plan", str(MINIMAL)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "workflow install: 5 steps in 5 levels"
    assert lines[1] == "level 1:"
    assert "HPCEnvironment.Standard.configure" in lines[2]


def test_json_plan_of_a_custom_workflow() -> None:
    result = runner.invoke(
        app, ["plan", str(MINIMAL), "-w", "exec_job", "-o", "json", "-i", "num_nodes=3"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["workflow"] == "exec_job"
    assert data["inputs"]["num_nodes"] == 3
    ids = [s["id"] for s in data["steps"]]
    assert ids.index("StageIn_run.2") < ids.index("PyCOMPSJob_submit.2")
    submit = next(s for s in data["steps"] if s["id"] == "PyCOMPSJob_submit.2")
    assert submit["interface"] == "Runnable" and submit["operation"] == "submit"
    assert submit["depends_on"] == ["PyCOMPSJob_submit.1"]
    assert submit["implementation"] == "native://orchestrator.executors.native.pycompss:submit"


def test_secrets_stay_references_in_plans(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    (tmp_path / "c.yaml").write_text("- hosts: all\n  tasks: []\n")
    path.write_text(
        "tosca_definitions_version: tosca_simple_yaml_1_3\n"
        "topology_template:\n  node_templates:\n    n:\n      type: tosca.nodes.Root\n"
        "      interfaces:\n        Standard:\n          create:\n"
        "            implementation: c.yaml\n"
        "            inputs: {password: {get_secret: vault/pw}}\n"
    )
    result = runner.invoke(app, ["plan", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    (step,) = json.loads(result.stdout)["steps"]
    assert step["inputs"] == {"password": {"get_secret": "vault/pw"}}


def test_unknown_workflow_exits_1() -> None:
    result = runner.invoke(app, ["plan", str(TSUNAMI), "-w", "nope"])
    assert result.exit_code == 1
    assert "unknown workflow 'nope'" in result.stderr


def test_bad_workflow_input_exits_2() -> None:
    result = runner.invoke(app, ["plan", str(TSUNAMI), "-w", "exec_job", "-i", "scenarios=x"])
    assert result.exit_code == 2


def test_real_entry_point_plan_json() -> None:
    tosca = Path(sys.executable).parent / "tosca"
    out = subprocess.run(
        [str(tosca), "plan", str(TSUNAMI), "-w", "exec_job", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    steps = json.loads(out.stdout)["steps"]
    run = next(s for s in steps if s["id"] == "forecast_run.2")
    assert run["on_failure"] == ["forecast_failed"]
