"""AnsibleExecutor on a remote site over SSH: the loopback sshd of scripts/sshd-up.sh."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.executors.ansible import AnsibleExecutor
from orchestrator.executors.base import FAILED, SUCCEEDED, HostSpec, OperationRequest
from orchestrator.transport.ssh import trust_host

pytestmark = [pytest.mark.integration, pytest.mark.ssh, pytest.mark.timeout(180)]

SSHD_DIR = Path(os.environ.get("TOSCA_SSHD_DIR", "/var/lib/tosca-test"))
PORT = int(os.environ.get("TOSCA_SSHD_PORT", "2222"))
USER = os.environ.get("TOSCA_SSHD_USER", "toscauser")

WHOAMI = """\
- hosts: all
  gather_facts: false
  tasks:
    - command: id -un
      register: who
    - set_stats:
        data: {user: "{{ who.stdout }}", greeting: "{{ greeting }}"}
"""


@pytest.fixture()
def site(tmp_path: Path) -> tuple[Path, Path]:
    if not (SSHD_DIR / "ssh_host_ed25519_key.pub").exists():
        pytest.fail("the loopback sshd is not set up: run scripts/sshd-up.sh")
    playbook = tmp_path / "whoami.yaml"
    playbook.write_text(WHOAMI)
    return playbook, tmp_path / "known_hosts"


def request(playbook: Path, known_hosts: Path) -> OperationRequest:
    host = HostSpec(
        name="site",
        connection="ssh",
        address="127.0.0.1",
        port=PORT,
        user=USER,
        private_key_file=str(SSHD_DIR / "id_ed25519"),
        known_hosts_file=str(known_hosts),
    )
    return OperationRequest(
        "site.Standard.configure", "site", "Standard", "configure", str(playbook),
        {"greeting": "hello"}, host=host,
    )  # fmt: skip


def test_playbook_runs_as_the_site_user_with_a_trusted_key(site: tuple[Path, Path]):
    playbook, known_hosts = site
    key = (SSHD_DIR / "ssh_host_ed25519_key.pub").read_text().split()
    trust_host(known_hosts, "127.0.0.1", PORT, f"{key[0]} {key[1]}")
    with AnsibleExecutor() as ex:
        result = ex.run_batch([request(playbook, known_hosts)])[0]
    assert result.status == SUCCEEDED, result.log
    assert result.outputs == {"user": USER, "greeting": "hello"}


def test_unknown_host_key_is_refused(site: tuple[Path, Path]):
    playbook, known_hosts = site
    known_hosts.write_text("")  # nothing trusted
    with AnsibleExecutor() as ex:
        result = ex.run_batch([request(playbook, known_hosts)])[0]
    assert result.status == FAILED
    assert "unreachable" in (result.error or "") and "host key" in (result.error or "")
