"""The long-running listener: sources in threads deliver messages (stored before anything
else), one processing loop turns them into outcomes, and a status line per message says
what happened; the job id of each started run follows on its own line when the scheduler
gives it."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.events.processor import AlertProcessor, Outcome
from orchestrator.events.sources import Source

__all__ = ["Listener"]

JobCallback = Callable[[Outcome, str, str | None, float], None]


class Listener:
    """Runs ``sources`` into ``processor`` until ``stop`` is set.

    ``on_job(outcome, execution_id, job_id, seconds)`` is called when a started run's first
    job id is known (``seconds`` since the alert was received; job None when the run ended
    without one, or none came within ``job_wait_s``)."""

    def __init__(
        self,
        processor: AlertProcessor,
        sources: Sequence[Source],
        *,
        out: Callable[[str], None] = print,
        on_job: JobCallback | None = None,
        job_wait_s: float = 120.0,
    ) -> None:
        self.processor = processor
        self.sources = list(sources)
        self.out = out
        self.on_job = on_job
        self.job_wait_s = job_wait_s
        self._queue: queue.Queue[int] = queue.Queue()
        self._received: dict[int, float] = {}
        self.outcomes = 0

    def deliver(
        self,
        source: str,
        payload: str | bytes,
        *,
        delivery: str | None = None,
        cursor: tuple[str, str] | None = None,
    ) -> int | None:
        """Store one message (durable when this returns) and queue it for processing."""
        received = time.monotonic()
        message_id = self.processor.receive(source, payload, delivery=delivery, cursor=cursor)
        if message_id is not None:
            self._received[message_id] = received
            self._queue.put(message_id)
        return message_id

    def run(self, stop: threading.Event) -> None:
        for outcome in self.processor.recover():
            self._report(outcome)
        threads = []
        for source in self.sources:
            thread = threading.Thread(
                target=self._run_source, args=(source, stop), name=source.name, daemon=True
            )
            thread.start()
            threads.append(thread)
        try:
            while not stop.is_set():
                try:
                    message_id = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._report(self.processor.process(message_id))
        finally:
            stop.set()
            for source in self.sources:
                close = getattr(source, "close", None)
                if close is not None:
                    close()

    def _run_source(self, source: Source, stop: threading.Event) -> None:
        try:
            source.run(self.deliver, stop)
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the rest
            self.out(f"{source.name}: stopped ({type(exc).__name__}: {exc})")

    def _report(self, outcome: Outcome) -> None:
        self.outcomes += 1
        self.out(outcome.line())
        received = self._received.pop(outcome.message_id, time.monotonic())
        for handle in outcome.handles:
            threading.Thread(
                target=self._wait_job, args=(outcome, handle, received), daemon=True
            ).start()

    def _wait_job(self, outcome: Outcome, handle: Any, received: float) -> None:
        job = handle.wait_job(self.job_wait_s)
        seconds = time.monotonic() - received
        if self.on_job is not None:
            self.on_job(outcome, handle.execution_id, job, seconds)
        if job is not None:
            self.out(f"#{outcome.message_id}: execution {handle.execution_id} job {job} "
                     f"({seconds * 1000:.0f} ms after the alert)")  # fmt: skip
        elif handle.done:
            self.out(f"#{outcome.message_id}: execution {handle.execution_id} ended without a job")
