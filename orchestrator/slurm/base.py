"""The scheduler boundary and its one seam for spawning commands.

``Scheduler`` is what the PyCOMPSs native implementation and the engine use; backends:
``SlurmCLI`` (default), ``SlurmRest`` (slurmrestd), ``PySlurmScheduler`` and
``LocalScheduler`` (detached processes for ``scheduler: local`` sites). ``CommandRunner`` is
the only way backends start processes (argv lists, always a timeout): ``LocalRunner`` runs on
this host, ``orchestrator.executors.ssh.SshRunner`` on a login node.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from orchestrator.errors import SchedulerError
from orchestrator.jobs import JobStatus
from orchestrator.redaction import scrubbed_environ
from orchestrator.slurm.spec import ClusterInfo, JobInfo, JobSpec

__all__ = ["CommandResult", "CommandRunner", "LocalRunner", "Scheduler"]

logger = logging.getLogger(__name__)


@runtime_checkable
class Scheduler(Protocol):
    """Submit, watch and cancel batch jobs on one site.

    - ``submit`` returns the job id as a string, or raises ``SchedulerError`` (the message
      holds the scheduler's own words, e.g. an invalid partition).
    - ``status`` answers for every id it is given, in ONE query to the scheduler when it
      can; an id no source knows is ``LOST``; an unmapped state is ``UNKNOWN``.
    - ``cancel`` is idempotent: cancelling a finished or unknown job is not an error.
    - ``cluster_info`` describes partitions and capacity (for ``tosca sites`` and checks).

    Optional (the CLI, local and slurmrestd backends have it; callers use ``getattr``):
    ``find_job(name, comment=None) -> job id | None``, the newest job submitted with that
    ``JobSpec.name`` (and ``comment``), so a submit interrupted before its job id was
    recorded can find its job instead of submitting a second one.
    """

    name: str

    def submit(self, spec: JobSpec) -> str: ...

    def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]: ...

    def details(self, job_ids: Sequence[str]) -> dict[str, JobInfo]: ...

    def cancel(self, job_id: str) -> None: ...

    def cluster_info(self) -> ClusterInfo: ...


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
