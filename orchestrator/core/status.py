"""Every status vocabulary of the toolkit, one ``StrEnum`` each.

Members are strings (``StepStatus.FAILED == "failed"``), so they go into the store, JSON and
messages as their value. Job states live beside them in ``orchestrator.jobs``.
"""

from __future__ import annotations

from enum import StrEnum, nonmember

__all__ = ["DeploymentStatus", "ExecutionStatus", "OperationStatus", "StepStatus"]


class OperationStatus(StrEnum):
    """The outcome of one operation attempt, as an executor reports it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class StepStatus(StrEnum):
    """Step states. ``pending`` -> ``running`` -> ``succeeded`` | ``failed`` | ``cancelled``;
    ``not_run`` when a dependency failed (or the branch was not taken)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_RUN = "not_run"
    FINAL = nonmember(frozenset({"succeeded", "failed", "cancelled", "not_run"}))


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINAL = nonmember(frozenset({"succeeded", "failed", "cancelled"}))


class DeploymentStatus(StrEnum):
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNDEPLOYING = "undeploying"
    UNDEPLOYED = "undeployed"
