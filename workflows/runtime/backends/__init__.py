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

from typing import Any

from workflows.runtime.config import RuntimeConfig

__all__ = ["make_backend"]


def make_backend(config: RuntimeConfig) -> Any:
    """The backend ``config.backend`` names (imports only that one)."""
    if config.backend == "slurm":
        from workflows.runtime.backends.slurm import SlurmBackend

        return SlurmBackend(config)
    if config.backend == "dry-run":
        from workflows.runtime.backends.dryrun import DryRunBackend

        return DryRunBackend(config)
    from workflows.runtime.backends.local import LocalBackend

    return LocalBackend(config)
