"""Loading valid templates: sources (file, dir, CSARs), inputs, types, merged interfaces."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from orchestrator.core import Implementation
from orchestrator.errors import UsageError
from orchestrator.tosca import load
from orchestrator.tosca.functions import GetInput, GetSecret

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports:
  - eflows4hpc
  - types/extra.yaml
topology_template:
  inputs:
    nodes: {type: integer, default: 1, constraints: [{in_range: [1, 64]}]}
    debug: {type: boolean, default: false}
    tags: {type: list, entry_schema: {type: string}, required: false}
    site_user: {type: string}
  node_templates:
    site:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: slurm
        user: {get_input: site_user}
        ssh_key: ssh/site
        dls_api_url: https://dls.example.org
    job:
      type: eflows4hpc.nodes.PyCOMPSJob
      properties:
        application: {command: app.py}
        submission_params: {num_nodes: {get_input: nodes}}
      requirements:
        - environment: site
      interfaces:
        Runnable:
          submit:
            inputs:
              extra: 1
    tool:
      type: my.Tool
      properties:
        password: {get_secret: tool/password}
      requirements:
        - dependency: {node: job, relationship: wire}
      interfaces:
        Standard:
          start: start.yaml
  relationship_templates:
    wire:
      type: tosca.relationships.DependsOn
      interfaces:
        Configure:
          pre_configure_source: wire.yaml
"""

EXTRA_TYPES = """\
tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  my.Base:
    derived_from: tosca.nodes.Root
    interfaces:
      Standard:
        create: base_create.yaml
        configure:
          implementation: base_configure.yaml
          inputs: {level: 1}
  my.Tool:
    derived_from: my.Base
    properties:
      password: {type: string, required: false}
    interfaces:
      Standard:
        configure:
          inputs: {level: 2, other: x}
"""


def write_project(root: Path) -> Path:
    (root / "types").mkdir(parents=True)
    (root / "types" / "extra.yaml").write_text(EXTRA_TYPES)
    (root / "service.yaml").write_text(TEMPLATE)
    # Playbooks next to the file that names them (checked at validate time).
    for playbook in ("types/base_create.yaml", "types/base_configure.yaml", "start.yaml",
                     "wire.yaml"):  # fmt: skip
        (root / playbook).write_text("- hosts: all\n  tasks: []\n")
    return root


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj")


def test_loads_a_file_with_typed_inputs(project: Path) -> None:
    model = load(project / "service.yaml", {"nodes": "4", "debug": "yes", "site_user": "ana"})
    assert model.input_values == {"nodes": 4, "debug": True, "site_user": "ana"}
    assert model.missing_inputs() == []
    assert model.path == (project / "service.yaml").resolve()
    assert model.base_dir == project.resolve()


def test_list_input_from_text_and_missing_required(project: Path) -> None:
    model = load(project / "service.yaml", {"tags": "[a, b]"})
    assert model.input_values["tags"] == ["a", "b"]
    assert model.missing_inputs() == ["site_user"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"nodes": "many"}, "not a valid integer"),
        ({"nodes": "100"}, "not in range"),
        ({"debug": "perhaps"}, "not a boolean"),
        ({"colour": "red"}, "unknown input(s): colour"),
        ({"tags": "{a: 1}"}, "is not a list"),
    ],
)
def test_bad_inputs_are_usage_errors(project: Path, given: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(project / "service.yaml", given)


def test_alias_and_type_ancestry(project: Path) -> None:
    model = load(project)
    job = model.nodes["job"]
    assert job.type == "eflows4hpc.nodes.PyCOMPSJob"
    assert job.types[0] == "eflows4hpc.nodes.PyCOMPSsJob"
    assert job.is_a("eflows4hpc.nodes.PyCOMPSsJob") and job.is_a("eflows4hpc.nodes.PyCOMPSJob")
    assert job.is_a("tosca.nodes.Root") and not job.is_a("eflows4hpc.nodes.Environment")
    assert model.nodes["tool"].types == ["my.Tool", "my.Base", "tosca.nodes.Root"]
    assert model.host_of("job") == "site"
    assert model.nodes_of_type("eflows4hpc.nodes.PyCOMPSsJob") == [job]


def test_type_level_and_template_level_operations_merge(project: Path) -> None:
    model = load(project)
    job_ops = model.nodes["job"].interfaces["Runnable"]
    assert set(job_ops) == {"submit", "run", "cancel"}
    assert job_ops["submit"].implementation == Implementation(
        primary="native://orchestrator.executors.native.pycompss:submit",
        base_dir=str(project.resolve()),
    )
    assert job_ops["submit"].inputs == {"extra": 1}
    tool = model.nodes["tool"].interfaces["Standard"]
    assert tool["create"].implementation.primary == "base_create.yaml"
    assert tool["create"].implementation.base_dir == str((project / "types").resolve())
    assert tool["configure"].implementation.primary == "base_configure.yaml"
    assert tool["configure"].inputs == {"level": 2, "other": "x"}
    assert tool["start"].implementation.primary == "start.yaml"
    assert tool["start"].implementation.base_dir == str(project.resolve())


def test_requirements_and_relationship_templates(project: Path) -> None:
    model = load(project)
    (req,) = model.nodes["tool"].requirements
    assert (req.name, req.target, req.relationship, req.relationship_template) == (
        "dependency",
        "job",
        "tosca.relationships.DependsOn",
        "wire",
    )
    assert req.interfaces["Configure"]["pre_configure_source"].implementation.primary == "wire.yaml"
    (env_req,) = model.nodes["job"].requirements
    assert env_req.relationship == "eflows4hpc.relationships.RunsOn" and env_req.is_hosted_on


def test_functions_are_kept_as_objects(project: Path) -> None:
    model = load(project)
    assert model.nodes["site"].properties["user"] == GetInput("site_user")
    assert model.nodes["tool"].properties["password"] == GetSecret("tool/password")
    # Type defaults are filled in, nested data type defaults too.
    assert model.nodes["site"].properties["ssh_port"] == 22
    assert model.nodes["job"].properties["submission_params"]["qos"] == "debug"


def test_directory_with_tosca_meta(tmp_path: Path) -> None:
    root = write_project(tmp_path / "csar")
    (root / "other.yaml").write_text(TEMPLATE)  # two candidates: the meta file decides
    (root / "TOSCA-Metadata").mkdir()
    (root / "TOSCA-Metadata" / "TOSCA.meta").write_text(
        "TOSCA-Meta-File-Version: 1.0\nEntry-Definitions: service.yaml\n"
    )
    assert load(root).path.name == "service.yaml"


def test_directory_with_two_templates_is_ambiguous(tmp_path: Path) -> None:
    root = write_project(tmp_path / "two")
    (root / "other.yaml").write_text(TEMPLATE)
    with pytest.raises(UsageError, match="several service templates"):
        load(root)


def test_zip_csar(tmp_path: Path) -> None:
    root = write_project(tmp_path / "src")
    archive = tmp_path / "app.csar"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in root.rglob("*"):
            zf.write(f, f.relative_to(root))
    model = load(archive)
    assert set(model.nodes) == {"site", "job", "tool"}
    assert (model.base_dir / "types" / "extra.yaml").is_file()


def test_tar_gz_csar(tmp_path: Path) -> None:
    root = write_project(tmp_path / "src")
    archive = tmp_path / "app.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(root, arcname="app")
    assert set(load(archive).nodes) == {"site", "job", "tool"}


def test_not_an_archive(tmp_path: Path) -> None:
    bad = tmp_path / "x.zip"
    bad.write_text("not a zip")
    with pytest.raises(UsageError, match="not a zip or tar archive"):
        load(bad)


def test_profile_found_from_the_package(tmp_path: Path) -> None:
    import tosca_types

    assert (tosca_types.PROFILE_DIR / "eflows4hpc.yaml").is_file()
    shutil.copy(Path(__file__).parents[3] / "examples" / "tsunami" / "tsunami.yaml", tmp_path)
    assert "forecast" in load(tmp_path / "tsunami.yaml").nodes


def test_toscaparser_crash_becomes_a_validation_error(project: Path, monkeypatch) -> None:
    from toscaparser import tosca_template

    from orchestrator.errors import ValidationError

    def crash(self, *args, **kwargs):
        raise KeyError("properties")

    monkeypatch.setattr(tosca_template.ToscaTemplate, "__init__", crash)
    with pytest.raises(ValidationError, match="tosca-parser could not process the template"):
        load(project)


def test_deeply_nested_values_are_reported_not_crashed(tmp_path: Path) -> None:
    from orchestrator.errors import ValidationError

    deep = "[" * 5000 + "]" * 5000
    path = tmp_path / "deep.yaml"
    path.write_text(
        "tosca_definitions_version: tosca_simple_yaml_1_3\n"
        "topology_template:\n  node_templates:\n    n:\n      type: tosca.nodes.Root\n"
        f"      metadata: {{x: {deep}}}\n"
    )
    with pytest.raises(ValidationError, match="nest"):
        load(path)


def test_relationship_context_resolves_source_and_target(project: Path) -> None:
    from orchestrator.tosca import ModelEvalContext
    from orchestrator.tosca.functions import GetProperty

    model = load(project, {"site_user": "ana"})
    ctx = ModelEvalContext(model, "job", None, lambda p: f"S({p})", source="tool", target="job")
    assert GetProperty("TARGET", ("application", "command")).evaluate(ctx) == "app.py"
    assert GetProperty("SOURCE", ("password",)).evaluate(ctx) == "S(tool/password)"
    assert GetProperty("HOST", ("user",)).evaluate(ctx) == "ana"
    assert GetProperty("job", ("environment", "scheduler")).evaluate(ctx) == "slurm"
