"""xOpera's integration scenarios (``tests/integration/*/runme.sh`` and the examples' own
scripts), rewritten as deploy tests on the vendored templates: the same commands' effects
checked through our CLI and service (outputs, statuses, the order dependencies impose)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from orchestrator.service import Service

XOPERA = Path(__file__).with_name("templates") / "xopera"
ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = XOPERA / "tests" / "integration"


def _tosca(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    # The installed console script, as users run it (``python -m`` would put the working
    # directory, with its own playbooks/ folder, ahead of the toolkit on sys.path).
    return subprocess.run([str(Path(sys.executable).with_name("tosca")), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def _service(workspace: Path) -> Service:
    return Service(workspace)


@pytest.mark.integration
def test_relationship_outputs_reach_the_topology_outputs(tmp_path: Path) -> None:
    """examples/relationship_outputs: attributes set by relationship operations (pre / post
    configure on source and target) and a relationship's own property, input and attribute
    surface as outputs, one of them read from a dependency file of the operation; undeploy
    succeeds."""
    ws = tmp_path / "ws"
    done = _tosca("deploy", str(XOPERA / "examples/relationship_outputs/service.yaml"),
                  "--workspace", str(ws))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    service = _service(ws)
    try:
        outputs = service.outputs()
        assert outputs == {
            "output_node_attribute": "Node attribute",
            # The operation's input is get_attribute [SELF, relationship_attribute]: the
            # relationship template's value, not its type's default.
            "output_post_configure_source_attribute": "Relationship attribute",
            "output_pre_configure_source_attribute": "This is pre configure source attribute",
            "output_pre_configure_target_attribute": "This is pre configure target attribute",
            "output_post_configure_source_property_attribute": "Relationship property",
            "output_post_configure_source_input_attribute": "Relationship input",
            "output_post_configure_source_txt_file_attribute":
                "This is an example file content.",
            "output_post_configure_target_attribute": "This is post configure target attribute",
            "output_relationship_attribute": "Relationship attribute",
            "output_relationship_input": "Relationship input",
            "output_relationship_property": "Relationship property",
        }  # fmt: skip
        assert service.undeploy().ok
    finally:
        service.close()


@pytest.mark.integration
def test_misc_tosca_types_deploy_from_a_zipped_csar(tmp_path: Path) -> None:
    """tests/integration/misc_tosca_types/runme.sh: the template zipped as a CSAR with its
    TOSCA-Metadata, validated, deployed with inputs.yaml, outputs read, undeployed."""
    src = INTEGRATION / "misc_tosca_types"
    csar = tmp_path / "test.csar"
    with zipfile.ZipFile(csar, "w") as zf:
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if path.is_file() and rel.parts[0] in ("service.yaml", "modules", "TOSCA-Metadata"):
                zf.write(path, rel.as_posix())
    inputs = str(src / "inputs.yaml")
    ws = str(tmp_path / "ws")
    checked = _tosca("validate", str(csar), "--inputs", inputs)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    done = _tosca("deploy", str(csar), "--inputs", inputs, "--workspace", ws, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    service = _service(Path(ws))
    try:
        assert service.outputs() == {
            "node_output_attr": "my_custom_attribute_value",
            "node_output_prop": 123,
            "relationship_output_attr": "This is a relationship attribute.",
            "relationship_output_prop": "rel_prop_test123",
        }
        assert service.undeploy().ok
    finally:
        service.close()


def _status(ws: Path) -> str:
    import json

    shown = _tosca("status", "--workspace", str(ws), "-o", "json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    return str(json.loads(shown.stdout)[0]["status"])


@pytest.mark.integration
def test_cli_commands_redeploy_with_yaml_and_json_inputs_then_undeploy(tmp_path: Path) -> None:
    """tests/integration/cli_commands/runme.sh: validate with YAML inputs (the template and
    the zipped CSAR), deploy, deploy again with JSON inputs, read outputs, undeploy; the
    status after each step is what the script expects."""
    src = INTEGRATION / "cli_commands"
    work = tmp_path / "cli_commands"
    shutil.copytree(src, work)
    with zipfile.ZipFile(tmp_path / "test.csar", "w") as zf:
        for path in sorted(work.rglob("*")):
            rel = path.relative_to(work)
            if path.is_file() and rel.parts[0] in ("service.yaml", "playbooks", "TOSCA-Metadata"):
                zf.write(path, rel.as_posix())
    ws = tmp_path / "ws"
    for target in (work / "service.yaml", tmp_path / "test.csar"):
        checked = _tosca("validate", "--inputs", str(work / "inputs.yaml"), str(target))
        assert checked.returncode == 0, checked.stdout + checked.stderr
    for inputs in ("inputs.yaml", "inputs.json"):
        done = _tosca("deploy", "--inputs", inputs, "service.yaml", "--workspace", str(ws),
                      cwd=work)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert _status(ws) == "deployed"
    shown = _tosca("outputs", "--workspace", str(ws), "-o", "json")
    assert shown.returncode == 0 and '"output_attr": 10' in shown.stdout, shown.stdout
    assert _status(ws) == "deployed"
    gone = _tosca("undeploy", "--workspace", str(ws))
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert _status(ws) == "undeployed"


_EVENT = re.compile(r"^\[\s*([\d.]+)s\] (hello-\d+)\.Standard\.(\w+) (started|ok)", re.M)


def _times(output: str) -> dict[tuple[str, str, str], float]:
    return {(m[2], m[3], m[4]): float(m[1]) for m in _EVENT.finditer(output)}


@pytest.mark.integration
@pytest.mark.slow
def test_concurrency_scenario_keeps_every_dependency_order(tmp_path: Path) -> None:
    """tests/integration/concurrency/runme.sh: 14 sleeping nodes, some depending on others,
    deployed and undeployed: a node is created only after what it depends on has started,
    and on undeploy deleted before it."""
    template = INTEGRATION / "concurrency" / "service.yaml"
    import yaml

    nodes = yaml.safe_load(template.read_text())["topology_template"]["node_templates"]
    depends = {
        name: [r["dependency"] for r in spec.get("requirements", []) if "dependency" in r]
        for name, spec in nodes.items()
        if name.startswith("hello-")
    }
    assert sum(map(len, depends.values())) >= 6
    ws = str(tmp_path / "ws")
    done = _tosca("deploy", str(template), "--workspace", ws, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    up = _times(done.stdout)
    for node, targets in depends.items():
        for target in targets:
            assert up[(node, "create", "started")] >= up[(target, "start", "ok")], (node, target)
    gone = _tosca("undeploy", "--workspace", ws, timeout=600)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    down = _times(gone.stdout)
    for node, targets in depends.items():
        for target in targets:
            assert down[(target, "delete", "started")] >= down[(node, "delete", "ok")]
