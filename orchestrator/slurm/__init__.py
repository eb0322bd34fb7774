"""Schedulers: one small interface over Slurm (CLI, slurmrestd, pyslurm) and local processes.

    get_scheduler(environment_properties, workspace=..., secret=...) -> Scheduler

picks the backend from an ``eflows4hpc.nodes.Environment``'s properties:

- ``scheduler: local`` -> ``LocalScheduler`` (jobs under ``<work_dir>/jobs``, default
  ``<workspace>/sites/<site>/jobs``);
- ``scheduler: slurm`` with ``slurm_backend``: ``cli`` (default; ``login_host`` localhost runs
  the commands here, any other host goes over SSH with ``user``, ``ssh_port``, ``ssh_key`` and
  the workspace's managed known_hosts), ``restd`` (``slurmrestd_url``, JWT from the secret
  named by ``slurmrestd_token``, user ``slurmrestd_user`` or ``user``) or ``pyslurm`` (falls
  back to ``cli`` with a warning when pyslurm does not match the cluster's version).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.core import HostSpec
from orchestrator.errors import UsageError
from orchestrator.redaction import write_private
from orchestrator.slurm.base import CommandResult, CommandRunner, LocalRunner, Scheduler
from orchestrator.slurm.cli import SlurmCLI
from orchestrator.slurm.local import LocalScheduler
from orchestrator.slurm.spec import ClusterInfo, JobInfo, JobSpec, PartitionInfo
from orchestrator.slurm.states import SLURM_STATES, map_slurm_state
from orchestrator.slurm.urgency import LEVELS, UrgencyOptions, apply_urgency, resolve_urgency
from orchestrator.transport.ssh import SshRunner, known_hosts_path

__all__ = [
    "LEVELS",
    "SLURM_STATES",
    "ClusterInfo",
    "CommandResult",
    "CommandRunner",
    "JobInfo",
    "JobSpec",
    "LocalRunner",
    "LocalScheduler",
    "PartitionInfo",
    "Scheduler",
    "SlurmCLI",
    "UrgencyOptions",
    "apply_urgency",
    "get_scheduler",
    "map_slurm_state",
    "resolve_urgency",
    "site_host",
]

logger = logging.getLogger(__name__)

SecretFn = Callable[[str], str]
# Only these mean "this host": an explicit address (even 127.0.0.1) or an ssh_key means SSH.
_LOCAL_HOSTS = {"", "localhost"}


def _workspace(workspace: str | Path | None) -> Path:
    return Path(workspace or os.environ.get("TOSCA_WORKSPACE", ".tosca")).resolve()


def site_host(
    props: Mapping[str, Any],
    workspace: str | Path | None = None,
    secret: SecretFn | None = None,
    name: str = "site",
) -> HostSpec:
    """The ``HostSpec`` of a site's login node (``connection: local`` for localhost)."""
    login = str(props.get("login_host") or "localhost")
    if login in _LOCAL_HOSTS and not props.get("ssh_key"):
        return HostSpec(name=name)
    ws = _workspace(workspace)
    key_file = None
    if props.get("ssh_key"):
        key_file = _key_file(str(props["ssh_key"]), ws, secret)
    return HostSpec(
        name=name,
        connection="ssh",
        address=login,
        port=int(props.get("ssh_port") or 22),
        user=props.get("user") or None,
        private_key_file=key_file,
        known_hosts_file=str(props.get("known_hosts") or known_hosts_path(ws)),
    )


def _key_file(ref: str, workspace: Path, secret: SecretFn | None) -> str:
    """A private-key file for ssh: the secret's value is a key (written 0600) or a path."""
    value = str(secret(ref)) if secret else ref
    if "PRIVATE KEY" not in value:
        if not Path(value).is_file():
            raise UsageError(f"ssh_key {ref!r} is neither a private key nor a key file")
        return value
    keys = workspace / "ssh" / "keys"
    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    # One file per process (a concurrent run may hold its own), removed when this process
    # ends: a key written from a secret does not outlive the run that needed it.
    name = f"{hashlib.sha256(ref.encode()).hexdigest()[:16]}.{os.getpid()}"
    path = keys / name
    if str(path) not in _KEY_FILES:
        write_private(path, value if value.endswith("\n") else value + "\n")
        _KEY_FILES.add(str(path))
    return str(path)


_KEY_FILES: set[str] = set()


@atexit.register
def _remove_key_files() -> None:
    for path in _KEY_FILES:
        with contextlib.suppress(OSError):
            os.unlink(path)


def get_scheduler(
    environment_properties: Mapping[str, Any] | None,
    *,
    workspace: str | Path | None = None,
    secret: SecretFn | None = None,
    site_name: str = "site",
    runner: CommandRunner | None = None,
) -> Scheduler:
    """The scheduler for a site (see the module docstring). ``runner`` overrides how the CLI
    backend runs commands (tests). Raises UsageError for an unusable configuration."""
    props = dict(environment_properties or {})
    kind = str(props.get("scheduler") or "local")
    if kind == "local":
        root = (
            Path(props["work_dir"])
            if props.get("work_dir")
            else (_workspace(workspace) / "sites" / site_name)
        )
        return LocalScheduler(root / "jobs")
    if kind != "slurm":
        raise UsageError(f"unknown scheduler {kind!r}; expected 'local' or 'slurm'")
    backend = str(props.get("slurm_backend") or "cli")
    if backend == "restd":
        return _rest(props, secret)
    if runner is None:
        host = site_host(props, workspace, secret, site_name)
        runner = SshRunner(host) if host.connection == "ssh" else LocalRunner()
    cli = SlurmCLI(runner)
    if backend == "pyslurm":
        # Deferred: optional package: pyslurm only when the site asks for it.
        from orchestrator.slurm.pyslurm_backend import PySlurmScheduler, pyslurm_available

        version = cli.cluster_version()
        module, why = pyslurm_available(version)
        if module is not None:
            return PySlurmScheduler(module)
        logger.warning("pyslurm backend unavailable (%s); using the Slurm commands", why)
        return cli
    if backend != "cli":
        raise UsageError(f"unknown slurm_backend {backend!r}; expected cli, restd or pyslurm")
    return cli


def _rest(props: Mapping[str, Any], secret: SecretFn | None) -> Scheduler:
    # Deferred: the REST client (httpx) only when the site asks for it.
    from orchestrator.slurm.rest import SlurmRest

    url = props.get("slurmrestd_url")
    token_ref = props.get("slurmrestd_token")
    user = props.get("slurmrestd_user") or props.get("user")
    if not url or not token_ref or not user:
        raise UsageError(
            "slurm_backend 'restd' needs slurmrestd_url, slurmrestd_token (a secret path) "
            "and slurmrestd_user (or user)"
        )
    token = secret(str(token_ref)) if secret else str(token_ref)
    return SlurmRest(str(url), str(user), token)
