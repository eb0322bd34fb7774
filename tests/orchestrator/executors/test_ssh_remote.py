"""Remote sites over SSH against the loopback sshd (scripts/sshd-up.sh): host-key trust,
commands, Slurm submission through the login node, and an ansible-runner playbook."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.core import HostSpec
from orchestrator.jobs import JobStatus
from orchestrator.slurm import JobSpec, SlurmCLI, get_scheduler
from orchestrator.transport.ssh import (
    HostKeyError,
    SshRunner,
    ansible_host_vars,
    known_hosts_path,
    trust_host,
)

pytestmark = [pytest.mark.integration, pytest.mark.ssh]

OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def host(site: dict[str, Any], known_hosts: Path) -> HostSpec:
    return HostSpec(
        name="hpc", connection="ssh", address=str(site["address"]), port=int(site["port"]),
        user=str(site["user"]), private_key_file=str(site["key"]),
        known_hosts_file=str(known_hosts),
    )  # fmt: skip


def test_trusted_host_runs_commands_as_the_site_user(sshd_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kh = known_hosts_path(tmp_path)
    added = trust_host(kh, sshd_site["address"], sshd_site["port"], sshd_site["host_key"])
    assert added[0].startswith("[127.0.0.1]:2222 ssh-ed25519 ")
    result = SshRunner(host(sshd_site, kh)).run(["sh", "-c", 'echo "$(id -un) $1"', "x", "a b"])
    assert result.returncode == 0 and result.stdout == "toscauser a b\n"


def test_keyscan_trust_is_explicit_and_matches_the_server_key(sshd_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kh = tmp_path / "kh"
    lines = trust_host(kh, sshd_site["address"], sshd_site["port"])
    assert any(sshd_site["host_key"].split()[1] in line for line in lines)


def test_unknown_host_key_is_refused(sshd_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kh = tmp_path / "empty_known_hosts"
    kh.write_text("")
    with pytest.raises(HostKeyError, match="not trusted yet"):
        SshRunner(host(sshd_site, kh)).run(["true"])
    assert kh.read_text() == ""  # nothing was added silently


def test_changed_host_key_is_refused(sshd_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kh = tmp_path / "kh"
    trust_host(kh, sshd_site["address"], sshd_site["port"], OTHER_KEY)
    with pytest.raises(HostKeyError, match="CHANGED"):
        SshRunner(host(sshd_site, kh)).run(["true"])


@pytest.mark.slurm
def test_slurm_submission_through_the_login_node(sshd_site, slurm_jobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trust_host(known_hosts_path(tmp_path), sshd_site["address"], sshd_site["port"],
               sshd_site["host_key"])  # fmt: skip
    site = {"scheduler": "slurm", "login_host": sshd_site["address"], "ssh_port": sshd_site["port"],
            "user": sshd_site["user"], "ssh_key": sshd_site["key"]}  # fmt: skip
    sched = get_scheduler(site, workspace=tmp_path)
    assert isinstance(sched, SlurmCLI) and isinstance(sched.runner, SshRunner)
    done = slurm_jobs.add(sched.submit(JobSpec(name="remote", script="id -un", workdir="/tmp",
                                               output="/tmp/tosca-remote-%j.out")))  # fmt: skip
    slow = slurm_jobs.add(
        sched.submit(JobSpec(name="remote2", script="sleep 60", workdir="/tmp", output="/dev/null"))
    )
    end = time.monotonic() + 20
    while time.monotonic() < end:
        st = sched.status([done, slow])
        if st[done] is JobStatus.COMPLETED and st[slow] is JobStatus.RUNNING:
            break
        time.sleep(0.2)
    assert st == {done: JobStatus.COMPLETED, slow: JobStatus.RUNNING}
    out = sched.runner.run(["cat", f"/tmp/tosca-remote-{done}.out"]).stdout
    assert out == "toscauser\n"  # the job ran as the site user
    sched.cancel(slow)
    sched.runner.run(["rm", "-f", f"/tmp/tosca-remote-{done}.out"])


PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - command: id -un
      register: who
    - set_stats:
        data: {remote_user: "{{ who.stdout }}"}
"""


@pytest.fixture(autouse=True)
def _venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible-runner looks ansible-playbook up on PATH: use the one next to this interpreter.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")


def _run_playbook(tmp_path: Path, hostvars: dict[str, object]) -> Any:
    import ansible_runner

    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "project" / "site.yml").write_text(PLAYBOOK)
    inventory = {"all": {"hosts": {"hpc": hostvars}}}
    return ansible_runner.run(
        private_data_dir=str(private), playbook="site.yml", inventory=inventory, quiet=True,
        envvars={"ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3"}, timeout=120,
    )  # fmt: skip


def test_ansible_playbook_over_ssh_as_the_site_user(sshd_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kh = tmp_path / "kh"
    trust_host(kh, sshd_site["address"], sshd_site["port"], sshd_site["host_key"])
    result = _run_playbook(tmp_path, ansible_host_vars(host(sshd_site, kh)))
    assert result.status == "successful", result.stdout.read()
    assert result.stats["changed"] == {"hpc": 1}
    stats = [e for e in result.events if e.get("event") == "playbook_on_stats"][-1]
    assert stats["event_data"]["artifact_data"] == {"remote_user": "toscauser"}


def test_ansible_refuses_a_changed_host_key(sshd_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kh = tmp_path / "kh"
    trust_host(kh, sshd_site["address"], sshd_site["port"], OTHER_KEY)
    result = _run_playbook(tmp_path, ansible_host_vars(host(sshd_site, kh)))
    assert result.status == "failed"
    assert result.stats["dark"] == {"hpc": 1}  # unreachable, never connected
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stdout.read()
