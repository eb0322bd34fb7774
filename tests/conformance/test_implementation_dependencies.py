"""TOSCA 1.3 operation implementations with ``dependencies``: each dependency is available
beside the primary playbook by its base name, as xOpera lays them out, wherever it lives in
the CSAR; the playbook's own relative references keep working; a missing dependency is a
located validation error."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.core import Implementation
from orchestrator.engine.artifacts import staged_primary
from orchestrator.errors import ValidationError
from orchestrator.service import Service
from orchestrator.tosca.loader import load

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  dep.nodes.Greeter:
    derived_from: tosca.nodes.Root
    properties:
      path: {type: string}
    interfaces:
      Standard:
        operations:
          create:
            implementation:
              primary: playbooks/create.yaml
              dependencies:
                - files/greeting.txt
                - DEP_TASKS
            inputs:
              path: {value: {get_property: [SELF, path]}, type: string}
topology_template:
  node_templates:
    greeter:
      type: dep.nodes.Greeter
      properties:
        path: MARKER
"""

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - include_tasks: common.yaml
    - copy: {src: greeting.txt, dest: "{{ path }}"}
    - copy: {src: local.txt, dest: "{{ path }}.local"}
"""

COMMON = """\
- copy: {dest: "{{ path }}.included", content: included}
"""


def _csar(root: Path, marker: Path, tasks_ref: str = "tasks/common.yaml") -> Path:
    (root / "playbooks" / "files").mkdir(parents=True)
    (root / "files").mkdir()
    (root / "tasks").mkdir()
    (root / "playbooks" / "create.yaml").write_text(PLAYBOOK)
    # An ordinary relative reference of the playbook (its own files/ folder).
    (root / "playbooks" / "files" / "local.txt").write_text("from the playbook's folder")
    (root / "files" / "greeting.txt").write_text("hello from a dependency")
    (root / "tasks" / "common.yaml").write_text(COMMON)
    service = root / "service.yaml"
    service.write_text(TEMPLATE.replace("MARKER", str(marker)).replace("DEP_TASKS", tasks_ref))
    return service


def test_dependencies_are_linked_beside_the_primary_by_base_name(tmp_path: Path) -> None:
    csar = tmp_path / "csar"
    _csar(csar, tmp_path / "m")
    impl = Implementation(
        primary="playbooks/create.yaml",
        dependencies=("files/greeting.txt", "/tasks/common.yaml"),  # one from the CSAR root
        base_dir=str(csar),
    )
    staged = staged_primary(impl, csar / "playbooks" / "create.yaml", csar, tmp_path / "st")
    folder = staged.parent
    assert staged.name == "create.yaml" and staged.read_text() == PLAYBOOK
    assert (folder / "greeting.txt").read_text() == "hello from a dependency"
    assert (folder / "common.yaml").read_text() == COMMON
    assert (folder / "files" / "local.txt").is_file()  # the playbook folder's own entries
    # Built once: the same request gets the same folder, and nothing is left half-built.
    again = staged_primary(impl, csar / "playbooks" / "create.yaml", csar, tmp_path / "st")
    assert again == staged
    assert [p.name for p in (tmp_path / "st").iterdir()] == [folder.name]


def test_a_missing_dependency_is_a_located_validation_error(tmp_path: Path) -> None:
    service = _csar(tmp_path / "csar", tmp_path / "m", tasks_ref="tasks/missing.yaml")
    with pytest.raises(ValidationError) as err:
        load(service)
    text = str(err.value)
    assert "dependency 'tasks/missing.yaml' of 'playbooks/create.yaml' not found" in text
    assert "service.yaml:" in text and "Standard.create" in text
    assert "Traceback" not in text


@pytest.mark.integration
@pytest.mark.parametrize("ansible", ["warm", "runner"])
def test_a_playbook_uses_its_dependencies_by_base_name_when_deployed(
    tmp_path: Path, ansible: str
) -> None:
    """Through both playbook executors: a dynamic ``include_tasks`` of a dependency (it
    resolves against the playbook's folder at run time), a ``copy`` of a dependency and a
    ``copy`` from the playbook's own ``files/``."""
    marker = tmp_path / "greeting.out"
    service_file = _csar(tmp_path / "csar", marker)
    service = Service(tmp_path / "ws", ansible=ansible)
    try:
        assert service.deploy(service_file).ok
    finally:
        service.close()
    assert marker.read_text() == "hello from a dependency"
    assert Path(f"{marker}.included").read_text() == "included"
    assert Path(f"{marker}.local").read_text() == "from the playbook's folder"
