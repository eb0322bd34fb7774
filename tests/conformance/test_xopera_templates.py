"""TOSCA 1.3 conformance on a peer's own templates (xOpera's examples and integration tests,
vendored under templates/xopera with their licence): they validate, and deployed with our
engine they give the results their authors' scripts check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.errors import ValidationError
from orchestrator.service import Service
from orchestrator.tosca.loader import load

XOPERA = Path(__file__).with_name("templates") / "xopera"
ROOT = Path(__file__).resolve().parents[2]

ACCEPTED = [
    "examples/artifacts",  # get_artifact as a property value and an operation input
    "examples/hello",
    "examples/outputs",
    "examples/intrinsic_functions",
    "examples/attribute_mapping",  # a topology output with a `type`
    "examples/policy_triggers",  # 1.3 triggers; requirement definitions without `node`
    "examples/capability_attributes_properties",
    "examples/nginx_openstack",  # tosca.capabilities.Compute
    "examples/tosca_functions",  # functions naming a relationship template
    "tests/integration/notify",  # 1.3 triggers; get_property naming policy types; 10 for a float
    "tests/integration/compare/service1.yaml",
    "tests/integration/compare/service2.yaml",
    "examples/relationship_outputs",
    "tests/integration/cli_commands",
    "tests/integration/concurrency",
    "tests/integration/misc_tosca_types",
]


@pytest.mark.parametrize("template", ACCEPTED)
def test_the_peers_valid_templates_validate(template: str) -> None:
    path = XOPERA / template
    model = load(path / "service.yaml" if path.is_dir() else path)
    assert model.nodes


def test_tosca_2_0_is_named_as_not_supported_yet() -> None:
    with pytest.raises(ValidationError) as err:
        load(XOPERA / "tests/integration/hello_world_tosca_2_0/service.yaml")
    assert "TOSCA 2.0 (tosca_2_0) is not supported yet" in str(err.value)
    assert "Traceback" not in str(err.value)


def test_an_integer_is_a_float(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("""\
tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  t.Node:
    derived_from: tosca.nodes.Root
    properties:
      ratio: {type: float}
topology_template:
  node_templates:
    n:
      type: t.Node
      properties:
        ratio: 10
""")
    assert load(template).nodes["n"].properties["ratio"] == 10


def _deploy(tmp_path: Path, template: str, *inputs: str) -> subprocess.CompletedProcess[str]:
    service_file = str(XOPERA / template / "service.yaml")
    argv = [sys.executable, "-m", "orchestrator.cli.main", "deploy", service_file,
            "--workspace", str(tmp_path / "ws")]  # fmt: skip
    for item in inputs:
        argv += ["-i", item]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip


@pytest.mark.integration
def test_notify_deploys_reading_its_policies_properties(tmp_path: Path) -> None:
    done = _deploy(tmp_path, "tests/integration/notify")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_relationship_values_reach_relationship_operations(tmp_path: Path) -> None:
    # Its relationship operations read the relationship's own attribute and property
    # through SELF and the relationship template's by name; SOURCE / TARGET the nodes'.
    done = _deploy(tmp_path, "examples/tosca_functions")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "post_configure_target ok" in done.stdout


@pytest.mark.integration
def test_hello_writes_its_marker_and_undeploy_removes_it(tmp_path: Path) -> None:
    shutil.rmtree("/tmp/playing-opera", ignore_errors=True)
    done = _deploy(tmp_path, "examples/hello", "marker=conformance-7")
    assert done.returncode == 0, done.stdout + done.stderr
    # The operation input is a 1.3 parameter definition {value, type}: its value is used.
    assert Path("/tmp/playing-opera/hello/hello.txt").read_text() == "conformance-7"
    service = Service(tmp_path / "ws")
    try:
        assert service.undeploy().ok
    finally:
        service.close()
    assert not Path("/tmp/playing-opera").exists()


@pytest.mark.integration
@pytest.mark.parametrize("template, expected", [
    ("examples/outputs", {"output_prop": 123, "output_attr": "my_custom_attribute_value"}),
    ("examples/intrinsic_functions", {"concat_output": "http://attribute1:property1",
                                      "join1_output": "tosca", "join2_output": "t_o_s_c_a"}),
    ("examples/attribute_mapping",
     {"student_id_list": ["student-1", "student-4", "student-6", "student-3"]}),
    ("examples/capability_attributes_properties",  # get_attribute/get_property through a
     # capability and a requirement (the playbook prefixes a space)
     {"output_cap_attr": " some_attribute", "output_cap_prop": " some_property",
      "output_req_attr": " some_integer", "output_req_prop": " some_string"}),
    ("examples/artifacts",  # the playbook reads the artifact files get_artifact names
     {"output_attribute_text_file": "This is an example file content.",
      "output_attribute_json_file":
          '{\n    "content": "This is an example JSON file content."\n}'}),
])  # fmt: skip
def test_outputs_are_what_the_authors_expect(tmp_path: Path, template: str, expected) -> None:  # type: ignore[no-untyped-def]
    done = _deploy(tmp_path, template)
    assert done.returncode == 0, done.stdout + done.stderr
    service = Service(tmp_path / "ws")
    try:
        outputs = service.outputs()
        assert {k: outputs[k] for k in expected} == expected
        assert service.undeploy().ok
    finally:
        service.close()


CUSTOM = """\
tosca_definitions_version: tosca_simple_yaml_1_3
interface_types:
  my.interfaces.Custom:
    derived_from: tosca.interfaces.Root
    operations:
      submit: {description: declared; this node does not implement it}
      record: {description: implemented below}
node_types:
  my.nodes.Db:
    derived_from: tosca.nodes.Root
    interfaces:
      Custom:
        type: my.interfaces.Custom
        operations:
          record: native://orchestrator.executors.fake:record
topology_template:
  node_templates:
    db:
      type: my.nodes.Db
  workflows:
    check:
      steps:
        submit:
          target: db
          activities:
            - call_operation: Custom.submit
            - set_state: failed
"""


def test_an_unimplemented_declared_operation_is_a_no_op_and_any_state_is_kept(
    tmp_path: Path,
) -> None:
    template = tmp_path / "custom.yaml"
    template.write_text(CUSTOM)
    service = Service(tmp_path / "ws")
    try:
        assert service.deploy(template, deployment_id="c").ok
        outcome = service.run_workflow("check", deployment_id="c")
        assert outcome.ok, outcome.result
        (node,) = [n for n in service.status("c")["nodes"] if n["name"] == "db"]
        assert node["state"] == "failed"
    finally:
        service.close()


ROOTED = """\
tosca_definitions_version: tosca_simple_yaml_1_3
namespace: "urn:conformance.test"
policy_types:
  my.policies.Note:
    derived_from: tosca.policies.Root
    metadata: {targetNamespace: my.policies}
node_types:
  my.nodes.Marker:
    derived_from: tosca.nodes.Root
    properties:
      path: {type: string}
    interfaces:
      Standard:
        operations:
          create:
            implementation: /modules/create.yaml
            inputs:
              path: {value: {get_property: [SELF, path]}, type: string}
topology_template:
  node_templates:
    marker:
      type: my.nodes.Marker
      properties:
        path: MARKER
  policies:
    - note:
        type: my.policies.Note
        targets: [marker]
"""

CREATE = """\
- hosts: all
  gather_facts: false
  tasks:
    - copy: {dest: "{{ path }}", content: written}
"""


@pytest.mark.integration
def test_namespace_type_metadata_and_csar_root_paths(tmp_path: Path) -> None:
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "create.yaml").write_text(CREATE)
    marker = tmp_path / "marker.txt"
    (tmp_path / "service.yaml").write_text(ROOTED.replace("MARKER", str(marker)))
    service = Service(tmp_path / "ws")
    try:
        assert service.deploy(tmp_path / "service.yaml").ok
    finally:
        service.close()
    assert marker.read_text() == "written"
