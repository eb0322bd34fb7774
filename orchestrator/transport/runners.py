"""The one seam for spawning commands: argv lists, always a timeout, never a shell.

``LocalRunner`` runs on this host; ``orchestrator.transport.ssh.SshRunner`` on a login node.
Scheduler backends and the SSH helpers take any ``CommandRunner``.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.errors import SchedulerError
from orchestrator.redaction import scrubbed_environ

__all__ = ["CommandResult", "CommandRunner", "LocalRunner", "output_tail"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    """Runs one command. Raises ``SchedulerError`` if it cannot start or exceeds ``timeout``;
    a non-zero exit status is returned, not raised (the caller knows what it means)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult: ...


class LocalRunner:
    """Runs commands on this host (the login node is the orchestrator host)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        args = [str(a) for a in argv]
        try:
            proc = subprocess.run(
                args,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                # Slurm commands and job scripts inherit what sbatch is given: never the
                # orchestrator's secret-named variables (TOSCA_SECRET_*, *_TOKEN...).
                env=dict(env) if env is not None else scrubbed_environ(),
                check=False,
            )
        except FileNotFoundError as exc:
            raise SchedulerError(f"'{args[0]}' not found: is Slurm installed here?") from exc
        except subprocess.TimeoutExpired as exc:
            raise SchedulerError(f"'{' '.join(args[:2])}' did not answer in {timeout:g} s") from exc
        logger.debug("%s -> %s", args, proc.returncode)
        return CommandResult(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def output_tail(result: CommandResult) -> str:
    """The last 500 characters of what a failed command said (stderr, else stdout), for
    error messages; its exit status when it said nothing."""
    text = (result.stderr or result.stdout).strip()
    return text[-500:] if text else f"exit status {result.returncode}"
