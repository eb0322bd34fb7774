"""Whether the current thread is running a task body (nested task calls then run inline).

Its own module so the code that runs task bodies (``execution``) does not import the
decorators, which call up into the runtime."""

from __future__ import annotations

import threading

__all__ = ["in_task", "task_context"]

_local = threading.local()


def in_task() -> bool:
    """True while the current thread (or process) is executing a task body."""
    return getattr(_local, "depth", 0) > 0


class _TaskContext:
    """Marks the current thread as running a task (so nested task calls run inline)."""

    def __enter__(self) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1


task_context = _TaskContext
