"""The state store: what was deployed, what ran, what happened (SQLite, WAL mode).

Contract:

* One file, ``<workspace>/state.db``. Several processes may use it at once (a running
  ``tosca deploy``, a ``tosca status``, a ``tosca executions cancel``): WAL journal, a busy
  timeout, short transactions, and ``BEGIN IMMEDIATE`` for every write so writers queue
  instead of failing half-way.
* Every transition is committed *before* it is acted on: an attempt row (with its
  idempotency token) exists before an operation starts; a job id is stored as soon as it is
  known; an attempt's outcome, its outputs and the node attributes they set are committed in
  ONE transaction, so a resume never sees an operation half-recorded.
* Secrets are never stored in clear: inputs are redacted structurally on the way in, and
  callers pass operation logs / errors through a ``Redactor`` first.
* A store method either does what it says or raises ``StateError``.
"""

from __future__ import annotations

from orchestrator.core.status import DeploymentStatus, ExecutionStatus, StepStatus
from orchestrator.state.access import AccessRecords, AuditRecord, TokenRecord
from orchestrator.state.alerts import AlertMessage, AlertRecords, Association, QuakeRecord
from orchestrator.state.database import DB_NAME, LEVELS
from orchestrator.state.deployments import DeploymentRecords
from orchestrator.state.executions import ExecutionRecords
from orchestrator.state.keys import SshKeyRecord, SshKeyRecords
from orchestrator.state.logs import LogRecords
from orchestrator.state.records import (
    AttemptEnd,
    AttemptRecord,
    DeploymentRecord,
    EventRecord,
    ExecutionRecord,
    LogRecord,
    NodeRecord,
    StepRecord,
)
from orchestrator.state.steps import StepRecords

__all__ = [
    "DB_NAME",
    "AlertMessage",
    "Association",
    "QuakeRecord",
    "AttemptEnd",
    "AuditRecord",
    "TokenRecord",
    "SshKeyRecord",
    "AttemptRecord",
    "DeploymentRecord",
    "EventRecord",
    "ExecutionRecord",
    "LogRecord",
    "NodeRecord",
    "StepRecord",
    "Store",
    "StepStatus",
    "ExecutionStatus",
    "DeploymentStatus",
    "LEVELS",
]


class Store(
    DeploymentRecords,
    ExecutionRecords,
    StepRecords,
    LogRecords,
    AccessRecords,
    SshKeyRecords,
    AlertRecords,
):
    """Access to one workspace's ``state.db``. Safe to share between threads of one process.

    One connection and transaction helper (``orchestrator.state.database``); the methods of
    each kind of record live in their own module. ``transition_hook`` (test-only fault
    injection) is called after every committed write transaction except heartbeats; it
    receives the running count of such transactions.
    """
