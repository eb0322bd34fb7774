"""Exceptions of the task runtime.

::

    Exception
     +-- COMPSsException            raised BY a task to stop its TaskGroup (PyCOMPSs name)
     +-- RuntimeTaskError           base of what the runtime raises
          +-- TaskFailedError       a task failed for good under RETRY / FAIL (the app stops)
          +-- TaskCancelledError    the value of a cancelled task was asked for
          +-- ConstraintError       no resource of the backend can ever meet a constraint
          +-- TaskDefinitionError   a decorator is used wrongly (bad on_failure, returns, ...)
          +-- HttpTaskError         an @http call answered non-2xx or unreadable JSON
          +-- TaskTimeoutError      a task ran past its time_out (recorded as its failure)
"""

from __future__ import annotations

__all__ = [
    "COMPSsException",
    "RuntimeTaskError",
    "TaskFailedError",
    "TaskCancelledError",
    "ConstraintError",
    "TaskDefinitionError",
    "HttpTaskError",
    "TaskTimeoutError",
]


class COMPSsException(Exception):  # noqa: N818 - PyCOMPSs public name
    """Raised inside a task to cancel the rest of its ``TaskGroup``.

    The runtime cancels the group's pending and running tasks and re-raises this exception
    (same message) at the group's barrier in the main program.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(message)
        self.message = message


class RuntimeTaskError(Exception):
    """Base class of the errors raised by the runtime itself."""


class TaskFailedError(RuntimeTaskError):
    """A task failed for good under RETRY or FAIL: the application stops with this error."""

    def __init__(self, message: str, *, task_name: str = "", task_id: int = 0) -> None:
        super().__init__(message)
        self.task_name = task_name
        self.task_id = task_id


class TaskCancelledError(RuntimeTaskError):
    """The result of a cancelled task (successor of a failure, group cancel) was requested."""


class ConstraintError(RuntimeTaskError):
    """A task's constraint exceeds what any resource of the backend offers."""


class TaskDefinitionError(RuntimeTaskError):
    """A decorator or task call is malformed (unknown policy, bad ``returns``...)."""


class HttpTaskError(RuntimeTaskError):
    """An ``@http`` task got a non-2xx status or a body that is not the expected JSON."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class TaskTimeoutError(RuntimeTaskError):
    """A task ran longer than its ``time_out``; it was killed and failed."""
