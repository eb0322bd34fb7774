"""Backends: where task attempts run.

A backend is a small object the :class:`~workflows.runtime.core.Runtime` drives:

- ``bind(complete)``: receives the callback ``complete(task, outcome)`` to report attempts.
- ``check(spec)``: raise :class:`ConstraintError` now if no resource can ever run the task.
- ``try_acquire(task) -> bool`` / ``release(task)``: resource accounting (under the runtime
  lock: must not block); ``saturated()`` tells the scheduler to stop looking ahead.
- ``launch(task, args, kwargs, inout_names) -> Outcome | None``: start one attempt; return the
  Outcome if it ran synchronously, else report it later through ``complete``.
- ``cancel(task)``: stop a running attempt for real (kill its processes / scancel its job).
- ``shutdown()``; attributes ``name`` and ``host``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from workflows.runtime.config import RuntimeConfig
from workflows.runtime.model import Outcome, Task, TaskSpec

__all__ = ["Backend", "make_backend"]


class Backend(Protocol):
    """What the runtime drives (see the module docstring for each call's contract)."""

    name: str
    host: str

    def bind(self, complete: Callable[[Task, Outcome], None]) -> None: ...

    def check(self, spec: TaskSpec) -> None: ...

    def try_acquire(self, task: Task) -> bool: ...

    def release(self, task: Task) -> None: ...

    def saturated(self) -> bool: ...

    def launch(
        self, task: Task, args: tuple, kwargs: dict, inout: tuple[str, ...]
    ) -> Outcome | None: ...

    def cancel(self, task: Task) -> None: ...

    def shutdown(self) -> None: ...


def make_backend(config: RuntimeConfig) -> Backend:
    """The backend ``config.backend`` names (imports only that one)."""
    if config.backend == "slurm":
        from workflows.runtime.backends.slurm import SlurmBackend

        return SlurmBackend(config)
    if config.backend == "dry-run":
        from workflows.runtime.backends.dryrun import DryRunBackend

        return DryRunBackend(config)
    from workflows.runtime.backends.local import LocalBackend

    return LocalBackend(config)
