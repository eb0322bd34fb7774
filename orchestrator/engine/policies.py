"""Retry, polling and timeout policies: plain values, decided at the edge, read by the engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from orchestrator.core.status import OperationStatus
from orchestrator.jobs import JobStatus

__all__ = ["EngineConfig", "JobVerdict", "JobWatch", "PollPolicy", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed operation is tried again. Every attempt is recorded.

    ``max_attempts`` counts the first try (1 = no retry). The n-th retry waits
    ``min(delay * backoff**(n-1), max_delay)`` seconds. Cancelled or timed-out attempts are
    never retried.
    """

    max_attempts: int = 1
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 30.0

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (2 = first retry)."""
        if attempt <= 1:
            return 0.0
        return min(self.delay * self.backoff ** (attempt - 2), self.max_delay)


@dataclass(frozen=True)
class PollPolicy:
    """How a ``Runnable.run`` step polls its job.

    Delays start at ``initial`` and multiply by ``factor`` up to ``maximum`` (0.2 s doubling
    to 5 s by default). ``timeout`` bounds the whole job (overridden per step by the urgency
    policy's max wall time or the operation's timeout); ``unknown_grace`` bounds how long an
    UNKNOWN status is tolerated before the step fails.
    """

    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 5.0
    timeout: float = 24 * 3600.0
    unknown_grace: float = 120.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


@dataclass(frozen=True)
class JobVerdict:
    """What to do after one poll of a job: go on after ``delay`` seconds (``status`` None),
    or end the step with ``status`` and ``error``; ``cancel_reason`` says the job must be
    cancelled first; ``keep_outputs`` that the poll's outputs belong to the result."""

    status: OperationStatus | None = None
    error: str | None = None
    delay: float = 0.0
    cancel_reason: str | None = None
    keep_outputs: bool = False


class JobWatch:
    """The polling policy of one ``Runnable.run`` step, without any I/O: given each poll's
    job status, it says whether the job is done, failed, unknown for too long, past its
    deadline, or to be polled again after the next back-off delay."""

    def __init__(self, job_id: object, policy: PollPolicy, started: float, timeout: float):
        self.job_id = job_id
        self.policy = policy
        self.timeout = timeout
        self.deadline = started + timeout
        self._delays = policy.delays()
        self._unknown_since: float | None = None

    @staticmethod
    def status_of(raw: object) -> JobStatus | None:
        """A job status answered by a poll, or None when it is not one we know."""
        try:
            return JobStatus(str(raw).upper())
        except ValueError:
            return None

    def after(self, status: JobStatus, now: float, error: str | None = None) -> JobVerdict:
        job = self.job_id
        if status is JobStatus.COMPLETED:
            return JobVerdict(OperationStatus.SUCCEEDED, keep_outputs=True)
        if status.is_terminal:
            failed = f"job {job} ended {status.value}"
            return JobVerdict(OperationStatus.FAILED, failed, keep_outputs=True)
        if status is JobStatus.UNKNOWN:
            self._unknown_since = self._unknown_since or now
            unknown_for = now - self._unknown_since
            if unknown_for > self.policy.unknown_grace:
                detail = f" ({error})" if error else ""
                return JobVerdict(
                    OperationStatus.FAILED,
                    f"job {job}: status unknown for {unknown_for:.0f}s{detail}",
                    cancel_reason="status unknown too long",
                )
        else:
            self._unknown_since = None
        delay = next(self._delays)
        if now + delay > self.deadline:
            return JobVerdict(
                OperationStatus.TIMED_OUT,
                f"job {job} exceeded its time limit ({self.timeout:.0f}s); cancelled",
                cancel_reason="timeout",
            )
        return JobVerdict(delay=delay)


@dataclass(frozen=True)
class EngineConfig:
    """Engine knobs. ``operation_timeout`` applies to operations with no timeout of their
    own; ``max_ansible_batches`` bounds concurrent ansible-runner runs (each batch holds
    every Ansible step ready when it starts)."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)
    operation_timeout: float | None = 3600.0
    max_ansible_batches: int = 2
    max_workers: int = 32
    cancel_check_interval: float = 0.25
    heartbeat_interval: float = 5.0
    cancel_timeout: float = 120.0
