"""A fake ``Executor`` for engine, service and CLI tests: no Ansible, no Slurm.

Each request is answered by a handler chosen by step id, then by artifact, then the
default handler (which returns no outputs). A handler takes the ``OperationRequest`` and
returns the outputs dict (or a full ``OperationResult``); raising makes the operation fail
with the exception text as error. ``delay`` simulates work and honours ``cancel``.
Every batch and request is recorded so tests can assert what ran, when and together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.executors.base import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    FinishedCallback,
    OperationRequest,
    OperationResult,
    StartedCallback,
)

__all__ = ["FakeExecutor", "Handler"]

Handler = Callable[[OperationRequest], "dict[str, Any] | OperationResult"]


class FakeExecutor:
    """Runs requests sequentially in the calling thread through handlers (see module doc)."""

    name = "fake"

    def close(self) -> None:
        """Nothing to release."""

    def __init__(
        self,
        handlers: dict[str, Handler] | None = None,
        *,
        default: Handler | None = None,
        delay: float = 0.0,
    ) -> None:
        self.handlers = dict(handlers or {})
        self.default = default
        self.delay = delay
        self.batches: list[list[str]] = []
        self.calls: list[OperationRequest] = []
        self._lock = threading.Lock()

    def run_batch(
        self,
        requests: Sequence[OperationRequest],
        on_started: StartedCallback | None = None,
        on_finished: FinishedCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[OperationResult]:
        with self._lock:
            self.batches.append([r.step_id for r in requests])
            self.calls.extend(requests)
        results = []
        for request in requests:
            if on_started is not None:
                on_started(request.step_id)
            result = self._run_one(request, cancel)
            if on_finished is not None:
                on_finished(result)
            results.append(result)
        return results

    def _run_one(
        self, request: OperationRequest, cancel: threading.Event | None
    ) -> OperationResult:
        started = time.time()
        if cancel is not None and cancel.is_set():
            return OperationResult(
                request.step_id,
                CANCELLED,
                started_at=started,
                ended_at=time.time(),
                error="cancelled",
            )
        if self.delay and cancel is not None and cancel.wait(self.delay):
            return OperationResult(
                request.step_id,
                CANCELLED,
                started_at=started,
                ended_at=time.time(),
                error="cancelled",
            )
        if self.delay and cancel is None:
            time.sleep(self.delay)
        handler = (
            self.handlers.get(request.step_id)
            or self.handlers.get(request.artifact)
            or self.default
        )
        try:
            answer: dict[str, Any] | OperationResult = handler(request) if handler else {}
        except Exception as exc:
            return OperationResult(
                request.step_id,
                FAILED,
                started_at=started,
                ended_at=time.time(),
                log=f"error: {exc}",
                error=str(exc),
            )
        if isinstance(answer, OperationResult):
            return answer
        return OperationResult(
            request.step_id,
            SUCCEEDED,
            outputs=dict(answer),
            started_at=started,
            ended_at=time.time(),
            log=f"ran {request.step_id}",
        )

    @property
    def ran(self) -> list[str]:
        """Step ids of every request, in call order."""
        return [r.step_id for r in self.calls]
