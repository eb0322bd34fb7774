"""The job-status vocabulary shared by the engine, the Slurm adapters and the local runner.

``Runnable.run`` reports one of these as ``TOSCA_JOB_STATUS``. External states (Slurm,
Airflow, the image service) are translated with explicit tables next to their adapters;
anything unmapped becomes UNKNOWN (with a warning), which the engine tolerates only for a
bounded time: never an endless poll.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "QUEUED"  # accepted, waiting for resources
    RUNNING = "RUNNING"  # executing (includes COMPLETING)
    SUSPENDED = "SUSPENDED"  # paused by the scheduler; may resume
    REQUEUED = "REQUEUED"  # preempted/requeued, will run again: keep polling
    COMPLETED = "COMPLETED"  # finished successfully
    FAILED = "FAILED"  # finished with an error (non-zero exit, OOM, node failure...)
    CANCELLED = "CANCELLED"  # cancelled by a user or the orchestrator
    TIMEOUT = "TIMEOUT"  # hit its time limit or deadline
    LOST = "LOST"  # no scheduler knows it any more
    UNKNOWN = "UNKNOWN"  # unmapped answer; an error after a bounded time

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_success(self) -> bool:
        return self is JobStatus.COMPLETED


TERMINAL = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMEOUT, JobStatus.LOST}
)
