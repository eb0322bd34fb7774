"""`tosca deploy` starts the warm Ansible worker before parsing its arguments for real:
only when the template runs playbooks with the warm executor (start_early_for_deploy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.executors import ansible as module

PLAYBOOK_TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    a:
      type: tosca.nodes.Root
      interfaces:
        Standard:
          create: playbooks/create.yaml
"""
NATIVE_TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports:
  - file: types.yaml
topology_template:
  node_templates:
    a:
      type: tosca.nodes.Root
"""


@pytest.fixture()
def started(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    calls: list[bool] = []
    monkeypatch.setattr(module, "start_early", lambda: calls.append(True))
    monkeypatch.delenv("TOSCA_ANSIBLE", raising=False)
    return calls


@pytest.fixture()
def templates(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "pb").mkdir()
    (tmp_path / "pb" / "service.yaml").write_text(PLAYBOOK_TEMPLATE)
    (tmp_path / "native.yaml").write_text(NATIVE_TEMPLATE)
    return tmp_path / "pb", tmp_path / "native.yaml"


def test_starts_for_a_template_with_playbooks(started: list[bool], templates: tuple[Path, Path]):
    playbooks, _ = templates
    args = ["--workspace", "ws", "-i", "x=1", str(playbooks), "-q", "--name=dep"]
    assert module.start_early_for_deploy(args) is True
    assert started == [True]


@pytest.mark.parametrize(
    "extra",
    [["--help"], ["--dry-run"], ["--ansible", "runner"], ["--ansible=runner"]],
)
def test_does_not_start_when_nothing_will_run_warm(
    started: list[bool], templates: tuple[Path, Path], extra: list[str]
):
    playbooks, _ = templates
    assert module.start_early_for_deploy([str(playbooks), *extra]) is False
    assert started == []


def test_option_values_are_not_taken_for_the_path(
    started: list[bool], templates: tuple[Path, Path]
):
    playbooks, native = templates
    # The workspace value names the playbook template's directory; the path is native.
    assert module.start_early_for_deploy(["--workspace", str(playbooks), str(native)]) is False
    assert module.start_early_for_deploy(["--inputs", str(native), str(playbooks)]) is True
    assert started == [True]


def test_environment_selects_the_runner(
    started: list[bool], templates: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TOSCA_ANSIBLE", "runner")
    assert module.start_early_for_deploy([str(templates[0])]) is False
    assert module.start_early_for_deploy([str(templates[0]), "--ansible", "warm"]) is True


def test_long_form_implementation(started: list[bool], tmp_path: Path):
    (tmp_path / "long.yaml").write_text(
        PLAYBOOK_TEMPLATE.replace(
            "create: playbooks/create.yaml",
            "create:\n            implementation: {primary: playbooks/create.yml}",
        )
    )
    assert module.start_early_for_deploy([str(tmp_path / "long.yaml")]) is True


def test_no_path_or_missing_file(started: list[bool], tmp_path: Path):
    assert module.start_early_for_deploy([]) is False
    assert module.start_early_for_deploy([str(tmp_path / "missing.yaml")]) is False
    assert started == []
