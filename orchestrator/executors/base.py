"""The executor boundary: how ONE operation runs.

The engine decides *what* runs and *when* (ordering, retries, timeouts, state); an executor
only runs operations it is handed and reports each outcome. Inputs arrive already evaluated
(plain JSON-able values); secrets arrive as ``Secret`` values the executor must not log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.core.hosts import HostSpec
from orchestrator.core.status import OperationStatus

# Outcome statuses of one operation attempt (short names for the executors' code).
SUCCEEDED = OperationStatus.SUCCEEDED
FAILED = OperationStatus.FAILED
CANCELLED = OperationStatus.CANCELLED
TIMED_OUT = OperationStatus.TIMED_OUT


@dataclass(frozen=True)
class OperationRequest:
    """Everything needed to run one operation once."""

    step_id: str
    node: str
    interface: str
    operation: str
    artifact: str  # playbook path (absolute) or native://module:function
    inputs: dict[str, Any] = field(default_factory=dict)
    output_names: Sequence[str] = ()
    host: HostSpec = HostSpec()
    timeout: float | None = None
    workdir: str | None = None  # per-execution scratch directory
    # What native implementations may need beyond inputs, all evaluated: {"node_properties":
    # {...}, "requirements": {req_name: {"node": str, "type": str, "properties": {...}}},
    # "attributes": {...}, "deployment_id": str, "execution_id": str, "workspace": str}.
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class OperationResult:
    """What one attempt did. ``log`` holds the operation's own output (redacted)."""

    step_id: str
    status: str
    outputs: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0
    ended_at: float = 0.0
    log: str = ""
    error: str | None = None


# Called as soon as each operation of a batch starts / ends, so state is written per operation.
StartedCallback = Callable[[str], None]
FinishedCallback = Callable[[OperationResult], None]


class Executor(Protocol):
    """Runs a batch of independent, ready operations.

    ``run_batch`` blocks until every request has an outcome and returns one result per
    request (same order). It calls ``on_started`` / ``on_finished`` per operation as they
    happen. It never raises for an operation failure (that is a result); it raises
    ``ExecutionError`` only when the executor itself cannot work. Setting ``cancel`` asks
    it to stop running operations promptly and report them CANCELLED. ``name`` says which
    engine ran an execution (it is logged); ``close`` releases what the executor holds
    (worker processes) and may be called more than once.
    """

    name: str

    def close(self) -> None: ...

    def run_batch(
        self,
        requests: Sequence[OperationRequest],
        on_started: StartedCallback | None = None,
        on_finished: FinishedCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[OperationResult]: ...
