"""The commented slurmrestd site of minimal_workflow is valid and is what the Slurm layer reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from orchestrator.slurm import get_scheduler
from orchestrator.slurm.rest import SlurmRest
from orchestrator.tosca import ModelEvalContext, load

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "examples" / "minimal_workflow" / "minimal_workflow.yaml"
PROFILE = yaml.safe_load((ROOT / "tosca_types" / "eflows4hpc.yaml").read_text())
ENV_PROPS = PROFILE["node_types"]["eflows4hpc.nodes.Environment"]["properties"]


def _uncommented(text: str) -> str:
    """The example with its ``BEGIN/END slurmrestd site`` block uncommented."""
    out, inside = [], False
    for line in text.splitlines():
        if "END slurmrestd site" in line:
            inside = False
        elif inside:
            line = re.sub(r"^(\s*)# ?", r"\1", line)
        elif "BEGIN slurmrestd site" in line:
            inside = True
        out.append(line)
    assert not inside
    return "\n".join(out) + "\n"


def test_the_slurmrestd_site_validates_and_builds_a_rest_scheduler(tmp_path: Path) -> None:
    path = tmp_path / "minimal_workflow.yaml"
    path.write_text(_uncommented(MINIMAL.read_text()))
    model = load(path)
    site = model.nodes["RestSite"]
    ctx = ModelEvalContext(model, "RestSite")
    props = {k: ctx.evaluate(v) for k, v in site.properties.items()}
    assert props["slurmrestd_token"] == "slurm/jwt"
    assert props["slurmrestd_user"] == "eflows"
    assert props["known_hosts"] == "/etc/ssh/ssh_known_hosts"
    asked: list[str] = []

    def secret(ref: str) -> str:
        asked.append(ref)
        return "jwt-value"

    scheduler = get_scheduler(props, workspace=tmp_path, secret=secret, site_name="RestSite")
    assert isinstance(scheduler, SlurmRest)
    assert asked == ["slurm/jwt"]  # the token is resolved as a secret path


def test_new_site_properties_are_documented() -> None:
    for name in ("slurmrestd_token", "slurmrestd_user", "known_hosts"):
        assert ENV_PROPS[name]["required"] is False
        assert ENV_PROPS[name]["description"].strip(), name
    assert "secret path" in ENV_PROPS["slurmrestd_token"]["description"].lower()
    assert "<workspace>/ssh/known_hosts" in ENV_PROPS["known_hosts"]["description"]


def test_every_property_the_slurm_layer_reads_is_declared() -> None:
    # props.get("x") / props["x"] in orchestrator/slurm/__init__.py name Environment properties.
    source = (ROOT / "orchestrator" / "slurm" / "__init__.py").read_text()
    read: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "props"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            read.add(str(node.args[0].value))
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "props"
            and isinstance(node.slice, ast.Constant)
        ):
            read.add(str(node.slice.value))
    assert {"slurmrestd_token", "slurmrestd_user", "known_hosts"} <= read
    assert read <= set(ENV_PROPS), sorted(read - set(ENV_PROPS))
