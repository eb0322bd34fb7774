"""Each example validates and plans the same when packed as a CSAR (zip and tar.gz)."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import build_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["tsunami", "minimal_workflow", "climate"]
app = build_app()
runner = CliRunner()


def pack_zip(src: Path, archive: Path, meta: bool = False) -> Path:
    """Files at the archive root (optionally with a TOSCA-Metadata/TOSCA.meta)."""
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(src).as_posix())
        if meta:
            entry = next(src.glob("*.yaml")).name
            zf.writestr("TOSCA-Metadata/TOSCA.meta", f"TOSCA-Meta-File-Version: 1.0\n"
                        f"CSAR-Version: 1.1\nEntry-Definitions: {entry}\n")  # fmt: skip
    return archive


def pack_tgz(src: Path, archive: Path) -> Path:
    """Everything under one top-level directory, as tarballs usually are."""
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, arcname=src.name)
    return archive


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def plans(path: Path) -> dict[str, dict]:
    """The JSON plan of every workflow of the template at ``path``."""
    info = json.loads(cli("validate", str(path), "-o", "json"))
    assert info["valid"] is True
    return {wf: json.loads(cli("plan", str(path), "-w", wf, "-o", "json"))
            for wf in info["workflows"]}  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_example_as_zip_and_tar_gz_plans_like_the_directory(name: str, tmp_path: Path) -> None:
    src = EXAMPLES / name
    expected = plans(src)
    archives = [
        pack_zip(src, tmp_path / f"{name}.zip"),
        pack_zip(src, tmp_path / f"{name}.csar", meta=True),
        pack_tgz(src, tmp_path / f"{name}.tar.gz"),
    ]
    for archive in archives:
        assert plans(archive) == expected, archive.name
        assert cli("validate", str(archive)).startswith(f"valid: {archive}")


PLAYBOOK_TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports: [eflows4hpc]
topology_template:
  node_templates:
    site:
      type: eflows4hpc.nodes.Environment
      interfaces:
        Standard:
          configure: playbooks/site_configure.yaml
"""


def test_csar_playbooks_resolve_inside_the_archive(tmp_path: Path) -> None:
    src = tmp_path / "app"
    (src / "playbooks").mkdir(parents=True)
    (src / "app.yaml").write_text(PLAYBOOK_TEMPLATE)
    (src / "playbooks" / "site_configure.yaml").write_text("- hosts: all\n  tasks: []\n")
    for archive in (pack_zip(src, tmp_path / "app.zip"), pack_tgz(src, tmp_path / "app.tgz")):
        (step,) = [s for s in plans(archive)["install"]["steps"] if s["operation"] == "configure"]
        assert step["implementation"] == "playbooks/site_configure.yaml"
    (src / "playbooks" / "site_configure.yaml").unlink()
    result = runner.invoke(app, ["validate", str(pack_zip(src, tmp_path / "bad.zip"))])
    assert result.exit_code != 0
    assert "playbook 'playbooks/site_configure.yaml' not found" in result.output
    assert "app.yaml:9" in result.output and "node 'site'" in result.output
