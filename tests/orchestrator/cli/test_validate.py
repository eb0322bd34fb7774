"""``tosca validate`` and the CLI's shared behaviour (exit codes, errors, start-up cost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.common import parse_kv, read_inputs_file
from orchestrator.cli.main import build_app
from orchestrator.errors import UsageError

ROOT = Path(__file__).resolve().parents[3]
TSUNAMI = ROOT / "examples" / "tsunami"
TOSCA = Path(sys.executable).parent / "tosca"

runner = CliRunner()
app = build_app()

BAD = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports: [eflows4hpc]
topology_template:
  node_templates:
    env:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: pbs
        ssh_port: x
"""


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_valid_example() -> None:
    result = invoke("validate", str(TSUNAMI))
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout and "exec_job" in result.stdout


def test_json_summary() -> None:
    result = invoke("validate", str(TSUNAMI), "-o", "json")
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["nodes"]["forecast"] == "eflows4hpc.nodes.PyCOMPSsJob"
    assert data["policies"]["earthquake_alerts"] == "eflows4hpc.policies.EventTrigger"


def test_invalid_template_exits_1_with_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = invoke("validate", str(path))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"error: {path}:8, node 'env', field 'scheduler':")
    assert "9, node 'env', field 'ssh_port'" in lines[1]
    assert "Traceback" not in result.output


def test_invalid_template_as_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = invoke("validate", str(path), "-o", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert [(p["line"], p["field"]) for p in data["problems"]] == [
        (8, "scheduler"),
        (9, "ssh_port"),
    ]
    assert data["problems"][0]["node"] == "env" and "pbs" in data["problems"][0]["message"]


def test_inputs_are_typed_and_checked(tmp_path: Path) -> None:
    inputs = tmp_path / "in.yaml"
    inputs.write_text("scenarios: 4\n")
    ok = invoke("validate", str(TSUNAMI), "--inputs", str(inputs), "-i", "duration=60")
    assert ok.exit_code == 0, ok.output
    bad = invoke("validate", str(TSUNAMI), "-i", "scenarios=lots")
    assert bad.exit_code == 2
    # One clear message, not the same complaint from the type and constraint checks too.
    assert bad.stderr.strip() == "error: input 'scenarios': 'lots' is not a valid integer"
    out_of_range = invoke("validate", str(TSUNAMI), "-i", "scenarios=0")
    assert out_of_range.exit_code == 2 and "0 is not in range [1, 1000]" in out_of_range.stderr
    unknown = invoke("validate", str(TSUNAMI), "-i", "nope=1")
    assert unknown.exit_code == 2 and "unknown input(s): nope" in unknown.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke("validate", str(tmp_path / "missing.yaml")).exit_code == 2
    assert invoke("validate", str(TSUNAMI), "-i", "novalue").exit_code == 2
    assert invoke("validate").exit_code == 2  # missing argument (click usage error)


def test_parse_kv_and_inputs_file(tmp_path: Path) -> None:
    assert parse_kv(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(UsageError):
        parse_kv(["=1"])
    f = tmp_path / "i.json"
    f.write_text('{"a": [1, 2]}')
    assert read_inputs_file(f) == {"a": [1, 2]}
    f.write_text("[1, 2]")
    with pytest.raises(UsageError, match="must hold a mapping"):
        read_inputs_file(f)


def test_real_entry_point_validates_and_reports(tmp_path: Path) -> None:
    ok = subprocess.run(
        [str(TOSCA), "validate", str(TSUNAMI)], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    bad_path = tmp_path / "bad.yaml"
    bad_path.write_text("tosca_definitions_version: [\n")
    bad = subprocess.run(
        [str(TOSCA), "validate", str(bad_path)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith(f"error: {bad_path}:2:1: YAML syntax error")
    assert "Traceback" not in bad.stderr


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['tosca', '--help']\n"
        "from orchestrator.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('toscaparser', 'ansible_runner', 'xarray', 'numpy', 'fastapi',"
        " 'numba', 'matplotlib', 'httpx', 'orchestrator.tosca.loader') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert "HEAVY []" in result.stderr, result.stderr
    assert "validate" in result.stdout and "plan" in result.stdout
