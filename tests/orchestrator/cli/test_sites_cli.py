"""``tosca sites trust|list`` against the loopback sshd (scripts/sshd-up.sh, port 2222)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import build_app
from orchestrator.core import HostSpec
from orchestrator.state import Store
from orchestrator.transport.ssh import HostKeyError, SshRunner, known_hosts_path

runner = CliRunner()
app = build_app()

SITE_TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports:
  - eflows4hpc
topology_template:
  inputs:
    login: {type: string, default: 127.0.0.1}
  node_templates:
    remote:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: slurm
        login_host: {get_input: login}
        ssh_port: 2222
    here:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: local
"""


def published_fingerprint(site: dict[str, object]) -> str:
    # What the site's admins would publish: ssh-keygen -l of the host's public key.
    pub = Path(str(site["key"])).parent / "ssh_host_ed25519_key.pub"
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True,
                         timeout=10, check=True).stdout  # fmt: skip
    return out.split()[1]


def connect(site: dict[str, object], workspace: Path) -> str:
    host = HostSpec(name="site", connection="ssh", address=str(site["address"]),
                    port=int(site["port"]),  # type: ignore[call-overload]
                    user=str(site["user"]), private_key_file=str(site["key"]),
                    known_hosts_file=str(known_hosts_path(workspace)))  # fmt: skip
    return SshRunner(host).run(["echo", "hello"], timeout=20).stdout.strip()


@pytest.mark.integration
@pytest.mark.ssh
def test_trust_host_with_pinned_fingerprint_then_connect(sshd_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    with pytest.raises(HostKeyError):  # nothing trusted yet: refused, not silently accepted
        connect(sshd_site, ws)
    fp = published_fingerprint(sshd_site)
    result = runner.invoke(app, ["sites", "trust", "127.0.0.1", "--port", "2222",
                                 "--fingerprint", fp, "--workspace", str(ws)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert fp in result.output and "[127.0.0.1]:2222" in result.output
    assert connect(sshd_site, ws) == "hello"
    listed = runner.invoke(app, ["sites", "list", "--workspace", str(ws), "-o", "json"])
    assert json.loads(listed.output)["hosts"] == [
        {"host": "[127.0.0.1]:2222", "type": "ssh-ed25519", "fingerprint": fp}
    ]


@pytest.mark.integration
@pytest.mark.ssh
def test_a_fingerprint_mismatch_is_refused_and_nothing_is_written(
    sshd_site, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    wrong = "SHA256:" + "A" * 43
    result = runner.invoke(app, ["sites", "trust", "127.0.0.1", "-p", "2222",
                                 "--fingerprint", wrong, "--workspace", str(ws)])  # fmt: skip
    assert result.exit_code == 2
    assert "NOT trusted" in result.output and published_fingerprint(sshd_site) in result.output
    assert not known_hosts_path(ws).exists()
    assert (
        "no trusted host yet"
        in runner.invoke(app, ["sites", "list", "--workspace", str(ws)]).output
    )


@pytest.mark.integration
@pytest.mark.ssh
def test_trust_a_site_named_by_template_or_deployment(sshd_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    template = tmp_path / "site.yaml"
    template.write_text(SITE_TEMPLATE)
    fp = published_fingerprint(sshd_site)
    by_file = runner.invoke(
        app, ["sites", "trust", str(template), "remote", "--workspace", str(ws)]
    )
    assert by_file.exit_code == 0, by_file.output
    assert fp in by_file.output and connect(sshd_site, ws) == "hello"
    # A recorded deployment (its inputs give the login host) works the same way.
    known_hosts_path(ws).unlink()
    with Store(ws) as store:
        store.create_deployment("dep", str(template), {"login": "127.0.0.1"})
    by_dep = runner.invoke(app, ["sites", "trust", "dep", "remote", "--workspace", str(ws),
                                 "-o", "json"])  # fmt: skip
    assert by_dep.exit_code == 0, by_dep.output
    assert json.loads(by_dep.output)["keys"][0]["fingerprint"] == fp
    assert connect(sshd_site, ws) == "hello"
    local = runner.invoke(app, ["sites", "trust", "dep", "here", "--workspace", str(ws)])
    assert local.exit_code == 2 and "no SSH to trust" in local.output
    missing = runner.invoke(app, ["sites", "trust", "nope", "remote", "--workspace", str(ws)])
    assert missing.exit_code == 2 and "neither a deployment" in missing.output
