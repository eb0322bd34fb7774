"""Slurm job states -> ``orchestrator.jobs.JobStatus``, one explicit table.

Every state of ``squeue`` / ``sacct`` / slurmrestd (Slurm 22.05 to 25.x) is listed; an
unlisted one becomes UNKNOWN with a warning, which the engine tolerates only for a bounded
time. ``sacct`` decorates states ("CANCELLED by 0"), newer ``--json`` output gives a list of
state flags: ``normalise_state`` reduces all of these to the base name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from orchestrator.jobs import JobStatus

__all__ = [
    "DEAD_PENDING_REASONS",
    "SLURM_STATES",
    "map_slurm_state",
    "normalise_state",
]

logger = logging.getLogger(__name__)

SLURM_STATES: dict[str, JobStatus] = {
    "PENDING": JobStatus.QUEUED,  # waiting for resources / priority / begin time
    "CONFIGURING": JobStatus.QUEUED,  # resources allocated, nodes booting: not started yet
    "REQUEUE_HOLD": JobStatus.REQUEUED,  # requeued and held
    "REQUEUE_FED": JobStatus.REQUEUED,  # requeued by a federation sibling
    "REQUEUED": JobStatus.REQUEUED,  # being requeued (preemption, node failure, scontrol)
    "PREEMPTED": JobStatus.REQUEUED,  # with PreemptMode=REQUEUE it runs again later
    "RESV_DEL_HOLD": JobStatus.QUEUED,  # held because its reservation was deleted
    "RUNNING": JobStatus.RUNNING,
    "COMPLETING": JobStatus.RUNNING,  # processes ending, epilog running
    "RESIZING": JobStatus.RUNNING,
    "SIGNALING": JobStatus.RUNNING,
    "STAGE_OUT": JobStatus.RUNNING,  # burst buffer stage-out after the job ran
    "SUSPENDED": JobStatus.SUSPENDED,
    "STOPPED": JobStatus.SUSPENDED,  # SIGSTOPped, keeps its resources
    "COMPLETED": JobStatus.COMPLETED,  # every process exited 0
    "FAILED": JobStatus.FAILED,  # non-zero exit code or other failure
    "NODE_FAIL": JobStatus.FAILED,
    "OUT_OF_MEMORY": JobStatus.FAILED,
    "BOOT_FAIL": JobStatus.FAILED,  # a node could not boot
    "SPECIAL_EXIT": JobStatus.FAILED,  # exited with the special exit code; held for an admin
    "CANCELLED": JobStatus.CANCELLED,
    "REVOKED": JobStatus.CANCELLED,  # federation: another sibling runs it
    "TIMEOUT": JobStatus.TIMEOUT,  # hit its time limit
    "DEADLINE": JobStatus.TIMEOUT,  # could not finish before --deadline
}

# A PENDING job with one of these reasons will never start: report it FAILED, never poll forever.
DEAD_PENDING_REASONS = frozenset({"DependencyNeverSatisfied", "BadConstraints"})


def normalise_state(raw: Any) -> str:
    """The base state name of a Slurm answer: 'CANCELLED by 0' -> 'CANCELLED',
    ['RUNNING', 'COMPLETING'] -> 'COMPLETING' (the most advanced flag), 'cd' -> 'CD'."""
    if isinstance(raw, list | tuple):
        names = [normalise_state(r) for r in raw]
        # Newer Slurm puts the base state first and flags (COMPLETING, REQUEUED...) after.
        for flag in ("COMPLETING", "REQUEUED", "STAGE_OUT", "SIGNALING", "RESIZING"):
            if flag in names:
                return flag
        return names[0] if names else ""
    text = str(raw or "").strip().upper()
    return text.split()[0].rstrip("+") if text else ""


def map_slurm_state(
    raw: Any, reason: str | None = None, job_id: str = "?", restarts: int = 0
) -> JobStatus:
    """Translate one Slurm state (any spelling above) to a JobStatus; unknown -> UNKNOWN.

    A PENDING job that already ran (``restarts`` > 0: preempted or requeued) is REQUEUED."""
    state = normalise_state(raw)
    status = SLURM_STATES.get(state)
    if status is None:
        logger.warning("job %s: unmapped Slurm state %r, reporting UNKNOWN", job_id, raw)
        return JobStatus.UNKNOWN
    if status is JobStatus.QUEUED and reason in DEAD_PENDING_REASONS:
        return JobStatus.FAILED
    if state == "PENDING" and restarts > 0:
        return JobStatus.REQUEUED
    return status


def all_states() -> Iterable[str]:
    """Every Slurm state name this module maps (for documentation and tests)."""
    return SLURM_STATES.keys()
