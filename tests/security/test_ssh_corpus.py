"""Hostile inputs over the real loopback sshd (scripts/sshd-up.sh), through both Ansible
executors: values arrive as literal strings on the remote side, nothing runs, the secret-named
input never lands in ansible-runner's artifacts, and the known_hosts path may hold a space
(it is quoted in the ssh options both executors share)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.executors.ansible import AnsibleExecutor
from orchestrator.executors.ansible_runner_exec import AnsibleRunnerExecutor
from orchestrator.executors.base import SUCCEEDED, HostSpec, OperationRequest
from orchestrator.transport.ssh import trust_host

pytestmark = [pytest.mark.integration, pytest.mark.ssh, pytest.mark.timeout(180)]

SSHD_DIR = Path(os.environ.get("TOSCA_SSHD_DIR", "/var/lib/tosca-test"))
PORT = int(os.environ.get("TOSCA_SSHD_PORT", "2222"))
USER = os.environ.get("TOSCA_SSHD_USER", "toscauser")
CANARY = "Ssh-Canary-Secret-91b7"

ECHO = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: run each value through a remote command as an argument
      command:
        argv: [printf, "%s", "{{ item }}"]
      loop: ["{{ shell }}", "{{ subst }}", "{{ jinja }}", "{{ option }}"]
      register: echoed
    - name: the secret is usable remotely
      command:
        argv: [printf, "%s", "{{ db_password }}"]
      register: pw
      no_log: true
    - set_stats:
        data:
          echoed: "{{ echoed.results | map(attribute='stdout') | list }}"
          pw_length: "{{ pw.stdout | length }}"
"""


def hostile(pwn: str) -> dict[str, str]:
    return {
        "shell": f"x; touch {pwn}/shell",
        "subst": f"$(touch {pwn}/subst)",
        "jinja": "{{ lookup('pipe', 'touch " + pwn + "/jinja') }}",
        "option": f"-oProxyCommand=touch {pwn}/option",
    }


@pytest.fixture()
def site(tmp_path: Path) -> tuple[HostSpec, Path]:
    """The loopback sshd as a site, trusted through a known_hosts path with spaces, and a
    world-writable directory where an evaluated value would leave a file."""
    if not (SSHD_DIR / "ssh_host_ed25519_key.pub").exists():
        pytest.fail("the loopback sshd is not set up: run scripts/sshd-up.sh")
    pwn = tmp_path / "pwn"
    pwn.mkdir()
    pwn.chmod(0o777)  # the remote user must be able to create files there
    known_hosts = tmp_path / "a dir" / "known hosts"
    key = (SSHD_DIR / "ssh_host_ed25519_key.pub").read_text().split()
    trust_host(known_hosts, "127.0.0.1", PORT, f"{key[0]} {key[1]}")
    host = HostSpec(
        name="site", connection="ssh", address="127.0.0.1", port=PORT, user=USER,
        private_key_file=str(SSHD_DIR / "id_ed25519"), known_hosts_file=str(known_hosts),
    )  # fmt: skip
    return host, pwn


@pytest.mark.parametrize("executor", [AnsibleExecutor, AnsibleRunnerExecutor])
def test_hostile_inputs_over_ssh_arrive_literally(
    tmp_path: Path, site: tuple[HostSpec, Path], executor: type
) -> None:
    host, pwn = site
    playbook = tmp_path / "echo.yaml"
    playbook.write_text(ECHO)
    values = hostile(str(pwn))
    inputs = {**values, "db_password": CANARY}
    request = OperationRequest(
        "site.Standard.configure", "site", "Standard", "configure", str(playbook), inputs,
        host=host, workdir=str(tmp_path / "work"),
    )  # fmt: skip
    ex = executor()
    try:
        (result,) = ex.run_batch([request])
    finally:
        close = getattr(ex, "close", None)
        if close is not None:
            close()
    assert result.status == SUCCEEDED, result.log + (result.error or "")
    assert result.outputs["echoed"] == list(values.values())
    assert int(result.outputs["pw_length"]) == len(CANARY)  # the clear value reached the site
    assert list(pwn.iterdir()) == []
    assert CANARY not in result.log + repr(result.outputs) + (result.error or "")
    leaked = [
        str(p)
        for p in tmp_path.rglob("*")
        if p.is_file() and not p.is_symlink() and CANARY.encode() in p.read_bytes()
    ]
    assert leaked == []


def test_ssh_runner_passes_hostile_arguments_literally(site: tuple[HostSpec, Path]) -> None:
    from orchestrator.transport.ssh import SshRunner

    host, pwn = site
    values = list(hostile(str(pwn)).values()) + ["line\ntouch " + str(pwn) + "/newline", "`id`"]
    result = SshRunner(host).run(["printf", "%s\\0", *values], timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\0")[:-1] == values
    assert list(pwn.iterdir()) == []
