"""What a job is (``JobSpec``) and what a scheduler reports back (``JobInfo``, ``ClusterInfo``).

Plain data: built by the caller (the PyCOMPSs native implementation, the engine), turned into
``sbatch`` flags, a slurmrestd body or a local process by the backends.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from orchestrator.jobs import JobStatus

__all__ = ["ClusterInfo", "JobInfo", "JobSpec", "PartitionInfo", "render_script"]


@dataclass(frozen=True)
class JobSpec:
    """One batch job. Give either ``script`` (a shell script, ``#!`` line optional) or
    ``argv`` (run as is, no shell). Times: ``time_limit`` in minutes; ``deadline`` in seconds
    from submission (Slurm ``--deadline=now+N``). ``env`` is exported inside the job script,
    so values may hold any character. ``extra_args`` are site-specific ``sbatch`` flags.
    ``comment`` is a marker the job carries (see ``Scheduler.find_job``)."""

    name: str = "tosca-job"
    script: str | None = None
    argv: Sequence[str] | None = None
    workdir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    partition: str | None = None
    qos: str | None = None
    nice: int | None = None
    reservation: str | None = None
    time_limit: int | None = None
    deadline: int | None = None
    nodes: int | None = None
    ntasks: int | None = None
    cpus_per_task: int | None = None
    gres: str | None = None
    output: str | None = None
    error: str | None = None
    dependencies: Sequence[str] = ()
    requeue: bool | None = None
    extra_args: Sequence[str] = ()
    # A marker the job carries (Slurm --comment; a file in a local job's dir): the
    # orchestrator puts its idempotency tag there to find the job again after a crash.
    comment: str | None = None

    def __post_init__(self) -> None:
        if (self.script is None) == (self.argv is None):
            raise ValueError("JobSpec needs exactly one of 'script' or 'argv'")
        if self.argv is not None and not list(self.argv):
            raise ValueError("JobSpec.argv is empty")

    def with_defaults(self, **values: object) -> JobSpec:
        """A copy where each given field is set only if it is still None / empty."""
        fill = {k: v for k, v in values.items() if v is not None and getattr(self, k) in (None, "")}
        return replace(self, **fill)  # type: ignore[arg-type]


def render_script(spec: JobSpec, header: Sequence[str] = ()) -> str:
    """The job as a bash script: ``header`` lines (e.g. ``#SBATCH``), exports, then the body.

    Values are shell-quoted: the environment may carry any text without breaking the script.
    """
    lines = ["#!/bin/bash", *header]
    body = spec.script or ""
    if body.startswith("#!"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
    for key, value in spec.env.items():
        if not key.isidentifier():
            raise ValueError(f"environment variable name {key!r} is not valid")
        lines.append(f"export {key}={shlex.quote(str(value))}")
    if spec.argv is not None:
        lines.append("exec " + shlex.join(str(a) for a in spec.argv))
    else:
        lines.append(body)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class JobInfo:
    """What a scheduler knows of one job. ``raw_state`` is the scheduler's own word."""

    job_id: str
    status: JobStatus
    raw_state: str = ""
    reason: str | None = None
    exit_code: int | None = None
    restarts: int = 0
    partition: str | None = None
    source: str = "squeue"  # squeue | sacct | scontrol | restd | local | none


@dataclass(frozen=True)
class PartitionInfo:
    name: str
    default: bool = False
    priority_tier: int = 1
    state: str = "UP"
    nodes: str = ""
    total_cpus: int = 0


@dataclass(frozen=True)
class ClusterInfo:
    """A site at a glance: backend, Slurm version, partitions, nodes and free CPUs."""

    backend: str
    version: str = ""
    partitions: tuple[PartitionInfo, ...] = ()
    nodes: int = 0
    cpus: int = 0
    idle_cpus: int = 0
