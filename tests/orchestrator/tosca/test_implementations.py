"""Validate-time checks of implementations: playbooks must exist, native refs must resolve."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from orchestrator.core import Implementation
from orchestrator.errors import ValidationError
from orchestrator.tosca import load
from orchestrator.tosca.implementations import (
    implementation_problem,
    module_findable,
    parse_native,
)

PLAY = "- hosts: all\n  tasks: []\n"


def template(primary: str, *, node: str = "app") -> str:
    """A template whose node ``node`` runs ``primary`` as Standard.create (line 8)."""
    return (
        "tosca_definitions_version: tosca_simple_yaml_1_3\n"  # 1
        "topology_template:\n"  # 2
        "  node_templates:\n"  # 3
        f"    {node}:\n"  # 4
        "      type: tosca.nodes.Root\n"  # 5
        "      interfaces:\n"  # 6
        "        Standard:\n"  # 7
        f"          create: {primary}\n"  # 8
    )


def only_problem(path: Path):
    with pytest.raises(ValidationError) as err:
        load(path)
    (problem,) = err.value.problems
    return problem


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return path


# -- playbooks ---------------------------------------------------------------------------


def test_playbooks_resolve_next_to_the_template_and_in_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "plays").mkdir()
    (tmp_path / "plays" / "create.yaml").write_text(PLAY)
    model = load(write(tmp_path, template("plays/create.yaml")))
    assert model.nodes["app"].interfaces["Standard"]["create"].implementation is not None
    # The bundled playbooks/ package is the fallback (the profile's Environment.configure).
    load(write(tmp_path, template("environment/configure.yaml")))


@pytest.mark.parametrize(
    "primary",
    ["missing.yaml", "plays/missing.yaml", "/nonexistent/dir/site.yaml"],
)
def test_missing_playbook_is_a_located_error(tmp_path: Path, primary: str) -> None:
    path = write(tmp_path, template(primary))
    problem = only_problem(path)
    assert f"playbook '{primary}' not found" in problem.message
    loc = problem.location
    assert (loc.file, loc.line, loc.node, loc.operation) == (str(path), 8, "app", "Standard.create")
    if not primary.startswith("/"):
        assert str(tmp_path) in problem.message  # says where it looked


def test_missing_playbook_of_a_custom_type_is_located_in_the_types_file(tmp_path: Path) -> None:
    (tmp_path / "types").mkdir()
    types = tmp_path / "types" / "mine.yaml"
    types.write_text(
        "tosca_definitions_version: tosca_simple_yaml_1_3\n"  # 1
        "node_types:\n"  # 2
        "  my.Tool:\n"  # 3
        "    derived_from: tosca.nodes.Root\n"  # 4
        "    interfaces:\n"  # 5
        "      Standard:\n"  # 6
        "        configure:\n"  # 7
        "          implementation: tool_configure.yaml\n"  # 8
    )
    path = write(
        tmp_path,
        "tosca_definitions_version: tosca_simple_yaml_1_3\n"
        "imports: [types/mine.yaml]\n"
        "topology_template:\n  node_templates:\n    tool:\n      type: my.Tool\n",
    )
    problem = only_problem(path)
    assert "playbook 'tool_configure.yaml' not found" in problem.message
    loc = problem.location
    assert (loc.file, loc.line, loc.node, loc.operation) == (
        str(types), 7, "tool", "Standard.configure"
    )  # fmt: skip
    (tmp_path / "types" / "tool_configure.yaml").write_text(PLAY)  # next to the types file
    assert "tool" in load(path).nodes


def test_a_url_is_neither_a_playbook_nor_native(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, template("https://example.org/p.yaml")))
    assert "neither a playbook path nor native://module:function" in problem.message
    assert (problem.location.line, problem.location.operation) == (8, "Standard.create")


def test_overridden_type_playbook_is_not_reported(tmp_path: Path) -> None:
    # The profile's Environment.configure is replaced by the template's own playbook.
    (tmp_path / "mine.yaml").write_text(PLAY)
    path = write(
        tmp_path,
        "tosca_definitions_version: tosca_simple_yaml_1_3\nimports: [eflows4hpc]\n"
        "topology_template:\n  node_templates:\n    site:\n"
        "      type: eflows4hpc.nodes.Environment\n"
        "      interfaces: {Standard: {configure: mine.yaml}}\n",
    )
    op = load(path).nodes["site"].interfaces["Standard"]["configure"]
    assert op.implementation is not None and op.implementation.primary == "mine.yaml"


# -- native://module:function ------------------------------------------------------------


@pytest.mark.parametrize(
    ("primary", "message"),
    [
        ("native://orchestrator.executors.native.pycompss", "needs the form native://module"),
        ("native://orchestrator..native:submit", "is not a dotted module path"),
        ("native://:submit", "is not a dotted module path"),
        ("native://orchestrator.executors.native.pycompss:sub-mit", "is not a function name"),
        ("native://orchestrator.class:submit", "is not a dotted module path"),
        ("native://no_such_package_xyz.jobs:submit", "module 'no_such_package_xyz.jobs' not"),
        ("native://orchestrator.executors.native.nope:submit", "module 'orchestrator.exec"),
        ("native://orchestrator.errors.sub:f", "module 'orchestrator.errors.sub' not found"),
    ],
)
def test_bad_native_reference_is_a_located_error(
    tmp_path: Path, primary: str, message: str
) -> None:
    path = write(tmp_path, template(primary, node="job"))
    problem = only_problem(path)
    assert message in problem.message and primary in problem.message
    loc = problem.location
    assert (loc.file, loc.line, loc.node, loc.operation) == (str(path), 8, "job", "Standard.create")


def test_profile_native_implementations_resolve(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[3] / "examples"
    model = load(examples / "minimal_workflow")
    natives = {
        op.implementation.primary
        for n in model.nodes.values()
        for iface in n.interfaces.values()
        for op in iface.values()
        if op.implementation is not None and op.implementation.is_native
    }
    assert "native://orchestrator.executors.native.pycompss:submit" in natives
    for primary in natives:
        assert implementation_problem(Implementation(primary), tmp_path) is None


def test_native_check_imports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "explosive_pkg_xyz"
    (pkg / "sub").mkdir(parents=True)
    boom = "raise RuntimeError('imported at validate time')\n"
    (pkg / "__init__.py").write_text(boom)
    (pkg / "sub" / "__init__.py").write_text(boom)
    (pkg / "sub" / "jobs.py").write_text(boom)
    monkeypatch.syspath_prepend(str(tmp_path))
    module_findable.cache_clear()
    assert module_findable("explosive_pkg_xyz.sub.jobs")
    assert module_findable("explosive_pkg_xyz.sub")
    assert not module_findable("explosive_pkg_xyz.sub.other")
    assert not module_findable("explosive_pkg_xyz.sub.jobs.deeper")
    assert "explosive_pkg_xyz" not in sys.modules
    path = write(tmp_path, template("native://explosive_pkg_xyz.sub.jobs:run"))
    assert "app" in load(path).nodes
    assert "explosive_pkg_xyz" not in sys.modules
    module_findable.cache_clear()


def test_parse_native() -> None:
    assert parse_native("native://a.b_c.d:fn_1") == ("a.b_c.d", "fn_1")
    assert isinstance(parse_native("native://a.b:"), str)
    assert isinstance(parse_native("native://a.import:f"), str)  # a keyword is no module
