"""Retry, polling and timeout policies: plain values, decided at the edge, read by the engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["EngineConfig", "PollPolicy", "RetryPolicy"]


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
