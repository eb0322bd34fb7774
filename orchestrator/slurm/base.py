"""The scheduler boundary and its one seam for spawning commands.

``Scheduler`` is what the PyCOMPSs native implementation and the engine use; backends:
``SlurmCLI`` (default), ``SlurmRest`` (slurmrestd), ``PySlurmScheduler`` and
``LocalScheduler`` (detached processes for ``scheduler: local`` sites). Backends start
processes only through a ``CommandRunner`` (``orchestrator.transport``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from orchestrator.jobs import JobStatus
from orchestrator.slurm.spec import ClusterInfo, JobInfo, JobSpec
from orchestrator.transport.runners import CommandResult, CommandRunner, LocalRunner

# The runners are re-exported: every scheduler backend takes one.
__all__ = ["CommandResult", "CommandRunner", "LocalRunner", "Scheduler"]


@runtime_checkable
class Scheduler(Protocol):
    """Submit, watch and cancel batch jobs on one site.

    - ``submit`` returns the job id as a string, or raises ``SchedulerError`` (the message
      holds the scheduler's own words, e.g. an invalid partition).
    - ``status`` answers for every id it is given, in ONE query to the scheduler when it
      can; an id no source knows is ``LOST``; an unmapped state is ``UNKNOWN``.
    - ``cancel`` is idempotent: cancelling a finished or unknown job is not an error.
    - ``cluster_info`` describes partitions and capacity (for ``tosca sites`` and checks).
    - ``find_job(name, comment=None)`` is the newest job submitted with that ``JobSpec.name``
      (and ``comment``), or None, so a submit interrupted before its job id was recorded
      can find its job instead of submitting a second one.
    """

    name: str

    def submit(self, spec: JobSpec) -> str: ...

    def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]: ...

    def details(self, job_ids: Sequence[str]) -> dict[str, JobInfo]: ...

    def cancel(self, job_id: str) -> None: ...

    def cluster_info(self) -> ClusterInfo: ...

    def find_job(self, name: str, comment: str | None = None) -> str | None: ...
