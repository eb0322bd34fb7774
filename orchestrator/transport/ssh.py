"""Remote sites over SSH: host-key trust, ``ssh`` argv, Ansible inventory variables.

Host keys are always checked against a known_hosts file the toolkit manages
(``<workspace>/ssh/known_hosts`` unless a ``HostSpec`` names another): a host is trusted only
by an explicit ``trust_host`` call (``ssh-keyscan`` or a key given by the site admin), never
silently on first use. An unknown or changed key makes every connection fail with
``HostKeyError``, which says which and what to do.

``SshRunner`` runs commands on a login node (the Slurm CLI backend's seam over SSH);
``ansible_host_vars`` gives ansible-runner the same options, so both paths trust the same
keys.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.core import HostSpec
from orchestrator.errors import SchedulerError, UsageError
from orchestrator.transport.runners import CommandResult

__all__ = [
    "HostKeyError",
    "SshRunner",
    "ansible_host_vars",
    "check_ssh_failure",
    "known_hosts_path",
    "ssh_argv",
    "ssh_options",
    "trust_host",
]

logger = logging.getLogger(__name__)


class HostKeyError(SchedulerError):
    """The login node's host key is unknown or has changed."""


def known_hosts_path(workspace: str | Path) -> Path:
    """The known_hosts file the toolkit manages for a workspace."""
    return Path(workspace) / "ssh" / "known_hosts"


def _host_pattern(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def trust_host(
    known_hosts: str | Path,
    address: str,
    port: int = 22,
    key_line: str | None = None,
    timeout: float = 10.0,
) -> list[str]:
    """Record the host keys of ``address:port`` in ``known_hosts`` and return the lines added.

    ``key_line`` ("ssh-ed25519 AAAA...") pins a key the site gave out-of-band; without it the
    keys are fetched with ``ssh-keyscan`` (an explicit, logged act of trust). Existing lines
    for that host are replaced.
    """
    pattern = _host_pattern(address, port)
    if key_line:
        lines = [f"{pattern} {key_line.strip()}"]
    else:
        try:
            proc = subprocess.run(
                ["ssh-keyscan", "-p", str(port), "-T", str(int(timeout)), "--", address],
                capture_output=True,
                text=True,
                timeout=timeout + 5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HostKeyError(f"cannot fetch the host key of {pattern}: {exc}") from exc
        lines = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith("#")]
        if not lines:
            raise HostKeyError(f"{pattern} offered no host key (is sshd listening there?)")
    path = Path(known_hosts)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    kept = []
    if path.exists():
        kept = [ln for ln in path.read_text().splitlines() if ln.split(" ", 1)[0] != pattern]
    path.write_text("\n".join([*kept, *lines]) + "\n")
    path.chmod(0o600)
    logger.info("trusted host keys of %s in %s", pattern, path)
    return lines


def _config_path(path: str | Path) -> str:
    """``path`` as an ssh option value. ssh splits ``UserKnownHostsFile`` on whitespace (it
    takes a list of files), so a path with a space is double-quoted for ssh's own parser."""
    text = str(path)
    if '"' in text or any(c in text for c in "\r\n\0"):
        raise UsageError(f"known_hosts path {text!r}: quotes and control characters are refused")
    return f'"{text}"' if any(c.isspace() for c in text) else text


def ssh_options(host: HostSpec, known_hosts: str | Path | None = None) -> list[str]:
    """``ssh`` options for ``host``: key-only, strict host-key checking, no prompts."""
    kh = host.known_hosts_file or known_hosts
    if not kh:
        raise HostKeyError(f"no known_hosts file for {host.name}: trust the host first")
    opts = [
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={_config_path(kh)}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "UpdateHostKeys=no",
        "-o", "ConnectTimeout=10",
        "-o", "LogLevel=ERROR",
        "-p", str(host.port),
    ]  # fmt: skip
    if host.private_key_file:
        opts += ["-o", "IdentitiesOnly=yes", "-i", host.private_key_file]
    return opts


def _target(host: HostSpec) -> str:
    address = host.address or host.name
    return f"{host.user}@{address}" if host.user else address


def ssh_argv(
    host: HostSpec, remote_argv: Sequence[str], known_hosts: str | Path | None = None
) -> list[str]:
    """The local argv that runs ``remote_argv`` on ``host`` (quoted once for the remote shell)."""
    # "--" before the destination: nothing after it can be read as an ssh option (HostSpec
    # already refuses a user or address that starts with '-'; this is the second fence).
    return ["ssh", *ssh_options(host, known_hosts), "--", _target(host), shlex.join(remote_argv)]


def check_ssh_failure(host: HostSpec, returncode: int, stderr: str) -> None:
    """Raise a clear error if an ssh exit (255) came from host keys or authentication."""
    if returncode != 255:
        return
    address = _host_pattern(host.address or host.name, host.port)
    text = stderr or ""
    if (
        "REMOTE HOST IDENTIFICATION HAS CHANGED" in text
        or "Host key for" in text
        and "has changed" in text
    ):
        raise HostKeyError(
            f"the host key of {address} has CHANGED since it was trusted: refusing to connect. "
            "If the site really re-keyed, trust it again (tosca sites trust)."
        )
    if (
        "Host key verification failed" in text
        or "No ED25519 host key is known" in text
        or "host key is known" in text
    ):
        raise HostKeyError(
            f"the host key of {address} is not trusted yet: trust it first (tosca sites trust)"
        )
    if "Permission denied" in text:
        raise SchedulerError(
            f"{host.user or ''}@{address} refused our SSH key: {text.strip()[-200:]}"
        )
    raise SchedulerError(f"cannot connect to {address} over SSH: {text.strip()[-300:]}")


class SshRunner:
    """``CommandRunner`` that runs each command on a login node over ``ssh``."""

    def __init__(self, host: HostSpec, known_hosts: str | Path | None = None) -> None:
        self.host = host
        self.known_hosts = known_hosts

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        remote = [str(a) for a in argv]
        if env:
            remote = ["env", *(f"{k}={v}" for k, v in env.items()), *remote]
        local = ssh_argv(self.host, remote, self.known_hosts)
        try:
            proc = subprocess.run(
                local, input=input, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SchedulerError(
                f"'{remote[0]}' on {self.host.name} did not answer in {timeout:g} s"
            ) from exc
        except FileNotFoundError as exc:
            raise SchedulerError("the 'ssh' client is not installed") from exc
        check_ssh_failure(self.host, proc.returncode, proc.stderr)
        return CommandResult(tuple(remote), proc.returncode, proc.stdout, proc.stderr)


def ansible_host_vars(host: HostSpec, known_hosts: str | Path | None = None) -> dict[str, object]:
    """Inventory variables that make Ansible connect like ``SshRunner`` (same trust)."""
    if host.connection != "ssh":
        return {"ansible_connection": "local"}
    kh = host.known_hosts_file or known_hosts
    if not kh:
        raise HostKeyError(f"no known_hosts file for {host.name}: trust the host first")
    common = (
        "-o StrictHostKeyChecking=yes -o "
        + shlex.quote(f"UserKnownHostsFile={_config_path(kh)}")
        + " "
        "-o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no -o BatchMode=yes"
    )
    hostvars: dict[str, object] = {
        "ansible_connection": "ssh",
        # No shared ControlMaster: a persisted master socket would be reused by later runs
        # without checking the host key again (and would outlive the run as a process).
        "ansible_ssh_args": "-o ControlMaster=no -o ControlPath=none",
        "ansible_host": host.address or host.name,
        "ansible_port": host.port,
        "ansible_ssh_common_args": common,
        "ansible_host_key_checking": True,
    }
    if host.user:
        hostvars["ansible_user"] = host.user
    if host.private_key_file:
        hostvars["ansible_ssh_private_key_file"] = host.private_key_file
    return hostvars
